/**
 * `Date.prototype.toISOString` for a stream of times close together (a reconciled.csv's
 * event times): the day's `YYYY-MM-DDT` is kept and the time of day put together from
 * integers, not a Date made and formatted per cell. The same text, character for character.
 */
const DAY_MS = 86_400_000;

const two = (n: number) => (n < 10 ? `0${n}` : String(n));
const three = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));

export class IsoTimes {
  private day = NaN;
  private prefix = '';

  format(ms: number): string {
    if (!Number.isSafeInteger(ms) || Math.abs(ms) > 8.64e15) return new Date(ms).toISOString();
    const day = Math.floor(ms / DAY_MS);
    if (day !== this.day) {
      this.prefix = new Date(day * DAY_MS).toISOString().slice(0, -13);
      this.day = day;
    }
    let rest = ms - day * DAY_MS;
    const milli = rest % 1000;
    rest = (rest - milli) / 1000;
    const second = rest % 60;
    rest = (rest - second) / 60;
    const minute = rest % 60;
    const hour = (rest - minute) / 60;
    return `${this.prefix}${two(hour)}:${two(minute)}:${two(second)}.${three(milli)}Z`;
  }
}
