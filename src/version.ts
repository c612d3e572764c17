/** The tool's name and version, as sent in User-Agent and written in reports. */
import { createRequire } from 'node:module';

const pkg = createRequire(import.meta.url)('../package.json') as { name: string; version: string };

export const TOOL_NAME = pkg.name;
export const TOOL_VERSION = pkg.version;
export const USER_AGENT = `${TOOL_NAME}/${TOOL_VERSION}`;
