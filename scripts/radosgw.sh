#!/usr/bin/env bash
# A one-node Ceph RADOS Gateway on 127.0.0.1, for the real-S3 contract tests: it enforces
# signatures, POST policies, content-length-range and expiry the way S3 does.
#
#   scripts/radosgw.sh install        install the Debian packages (needs root)
#   scripts/radosgw.sh start DIR      start mon, osd and radosgw under DIR; writes DIR/env
#   scripts/radosgw.sh stop DIR       stop them by PID (radosgw, osd, mon) and remove DIR
#
# DIR/env holds RGW_ENDPOINT, RGW_ACCESS_KEY and RGW_SECRET_KEY. Everything lives in DIR:
# no systemd, no /etc/ceph, no containers. Start a fresh DIR each run.
set -euo pipefail

cmd=${1:-}
dir=${2:-}

die() {
  echo "radosgw.sh: $*" >&2
  exit 1
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

install() {
  if command -v radosgw >/dev/null && command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null; then
    echo "radosgw.sh: Ceph is already installed ($(ceph-mon --version | cut -d' ' -f1-3))"
    return
  fi
  [ "$(id -u)" = 0 ] || die "installing Ceph needs root (apt-get install ceph-mon ceph-osd radosgw)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ceph-mon ceph-osd radosgw >/dev/null
  echo "radosgw.sh: installed $(ceph-mon --version | cut -d' ' -f1-3)"
}

wait_for() {
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq 1 "$seconds"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "radosgw.sh: $what did not come up in ${seconds} s; last log lines:" >&2
  tail -n 20 "$dir"/log/*.log >&2 || true
  return 1
}

start() {
  [ -n "$dir" ] || die "usage: radosgw.sh start DIR"
  command -v radosgw >/dev/null || die "Ceph is not installed; run: scripts/radosgw.sh install"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -z "$(ls -A "$dir")" ] || die "$dir is not empty; start needs a fresh directory"
  mkdir -p "$dir/run" "$dir/log" "$dir/mon/ceph-a" "$dir/osd/ceph-0" "$dir/rgw"
  local fsid osd_uuid mon_port rgw_port
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  rgw_port=$(free_port)
  cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon initial members = a
mon host = v2:127.0.0.1:$mon_port
auth cluster required = none
auth service required = none
auth client required = none
ms bind ipv6 = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
run dir = $dir/run
log file = $dir/log/\$name.log
pid file = $dir/run/\$name.pid
admin socket = $dir/run/\$name.asok
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
osd objectstore = bluestore
bluestore block path = $dir/osd/\$cluster-\$id/block.img
bluestore block create = true
bluestore block size = 8589934592
osd memory target = 536870912
[client]
# With auth none, radosgw waits 300 s for the mon config unless told this.
ms mon client mode = crc secure
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
rgw gc obj min wait = 5
rgw gc processor period = 5
EOF
  local conf="$dir/ceph.conf"
  monmaptool --create --addv a "[v2:127.0.0.1:$mon_port]" --fsid "$fsid" "$dir/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$dir/monmap" -c "$conf" --keyring /dev/null
  ceph-mon -i a -c "$conf"
  wait_for "ceph-mon" 30 ceph -c "$conf" --connect-timeout 5 mon stat
  local id
  id=$(ceph -c "$conf" osd new "$osd_uuid")
  ceph-osd -i "$id" --mkfs --osd-uuid "$osd_uuid" -c "$conf" >"$dir/log/osd-mkfs.out" 2>&1
  ceph-osd -i "$id" -c "$conf" >>"$dir/log/osd-start.out" 2>&1
  wait_for "ceph-osd" 60 sh -c "ceph -c '$conf' osd stat | grep -q ' 1 up'"
  radosgw -n client.rgw.a -c "$conf" >"$dir/log/rgw-start.out" 2>&1
  wait_for "radosgw" 120 curl -sf "http://127.0.0.1:$rgw_port/"
  local key=AKCONTRACT$(date +%s)
  local secret
  secret=$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
  radosgw-admin -c "$conf" user create --uid contract --display-name contract --access-key "$key" --secret-key "$secret" >/dev/null
  cat >"$dir/env" <<EOF
RGW_ENDPOINT=http://127.0.0.1:$rgw_port
RGW_ACCESS_KEY=$key
RGW_SECRET_KEY=$secret
EOF
  echo "radosgw.sh: radosgw listening on http://127.0.0.1:$rgw_port (state in $dir)"
}

stop_pid() {
  local name=$1 pidfile="$dir/run/$1.pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || return 0
      sleep 0.5
    done
    echo "radosgw.sh: $name ($pid) ignored SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

stop() {
  [ -n "$dir" ] || die "usage: radosgw.sh stop DIR"
  [ -d "$dir" ] || return 0
  # radosgw first: once the mon is gone it ignores SIGTERM.
  stop_pid client.rgw.a
  stop_pid osd.0
  stop_pid mon.a
  rm -rf "$dir"
  echo "radosgw.sh: stopped and removed $dir"
}

case "$cmd" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) die "usage: radosgw.sh install | start DIR | stop DIR" ;;
esac
