#!/usr/bin/env bash
# Confinement (issue 16, item 1): a tenant's hostile chains, paths and
# directory swaps get a 400 fault that says what is wrong with the request
# and nothing about what exists on the host; no file is read or changed
# through them; stratad keeps serving.
#   - backing files outside the allowed directories (a host file, a missing
#     one: the same answer), json: and nbd: names, a device, another
#     volume's disk and its snapshot layers;
#   - a symlink anywhere on the adopted path;
#   - a directory of an adopted disk swapped for a symlink: the next
#     snapshot fails instead of following it, and the real files stay;
#     the same swap in the middle of a snapshot (STRATA_STOP_AT): its
#     rename, through a directory fd, fails too.
source "$(dirname "$0")/lib.sh"
need qemu-img qemu-io curl python3 mknod
start_stratad
d="$T/var/disks"
mkdir -p "$d" "$T/outside"

manage() {
  api POST /v3/os-volume-manage "{\"volume\":{\"host\":\"h\",\"ref\":{\"source-name\":\"$1\"}}}"
}
# refused PATH WHAT: manage PATH → 400 badRequest; prints the message.
refused() {
  manage "$1"
  expect_code 400 "$2"
  [[ $(jget "j['badRequest']['code']") == 400 ]] || fail "$2: fault body $BODY"
  jget "j['badRequest']['message']"
}
# listing DIR [FILE]: DIR's names, and FILE's SHA-256 when given.
listing() { (cd "$1" && ls -a | sort | tr '\n' ' ' && if [[ -n ${2:-} ]]; then sha256sum "$2"; fi); }
# swap_for_link DIR EVIL DISK: DIR moves to DIR.real and becomes a symlink
# to EVIL, a full copy of it; both sides are remembered (DISK: the disk).
swap_for_link() {
  mv "$1" "$1.real"
  mkdir -p "$2"
  cp -a "$1.real/." "$2/"
  ln -s "$2" "$1"
  side_real=$(listing "$1.real") side_evil=$(listing "$2" "$3")
}
# sides_unchanged DIR EVIL DISK WHAT: neither side changed since the swap.
sides_unchanged() {
  [[ $(listing "$1.real") == "$side_real" ]] || fail "$4: the real files changed"
  [[ $(listing "$2" "$3") == "$side_evil" ]] || fail "$4: the link's target changed: $(ls -a "$2")"
}
# with_backing NAME BACKING [FMT]: a qcow2 in the manage dir over BACKING,
# written into its header as is (-u: not opened by qemu-img).
with_backing() {
  qemu-img create -q -f qcow2 -u -b "$2" -F "${3:-raw}" "$d/$1" 64M
  echo "$d/$1"
}

secret="$T/outside/secret.raw"
printf 'host secret' >"$secret"
secret_sum=$(sha256sum "$secret" | cut -d' ' -f1)
m_exists=$(refused "$(with_backing host.qcow2 "$secret")" "backing file outside")
m_missing=$(refused "$(with_backing ghost.qcow2 "$T/outside/no-such.raw")" "missing backing outside")
[[ "$m_exists" == "$m_missing" ]] ||
  fail "the answers tell an existing host file from a missing one: '$m_exists' / '$m_missing'"
grep -q "outside the allowed directories" <<<"$m_exists" || fail "unclear refusal: $m_exists"
pass "a backing file outside the allowed dirs → 400, the same whether it exists or not"

m=$(refused "$(with_backing etc.qcow2 /etc/shadow)" "backing /etc/shadow")
[[ "$m" == "$m_exists" ]] || fail "/etc/shadow's answer differs: $m"
m=$(refused "$(with_backing dots.qcow2 "../../outside/secret.raw")" "relative backing escaping with ..")
[[ "$m" == "$m_exists" ]] || fail "the .. escape's answer differs: $m"
pass "/etc/shadow and a relative .. escape: the same refusal"

m=$(refused "$(with_backing json.qcow2 "json:{\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":\"$secret\"}}")" "json: backing")
grep -q "protocol or json" <<<"$m" || fail "json: refusal unclear: $m"
m=$(refused "$(with_backing nbd.qcow2 "nbd:127.0.0.1:10809")" "nbd: backing")
grep -q "protocol or json" <<<"$m" || fail "nbd: refusal unclear: $m"
pass "json: and nbd: backing names → 400"

mknod "$d/dev0" c 1 5   # /dev/zero's numbers, inside the manage dir
m=$(refused "$(with_backing dev.qcow2 dev0)" "a device as backing file")
grep -q "not a regular file" <<<"$m" || fail "device refusal unclear: $m"
m=$(refused "$d/dev0" "a device as the disk")
rm -f "$d/dev0"
pass "a character device, as backing file or as the disk → 400"

# Another volume's disk, and its snapshot layer, as a backing file.
qemu-img create -q -f qcow2 "$d/victim.qcow2" 64M
write_pattern "$d/victim.qcow2" 0x44 0 1M
victim=$(manage_disk "$d/victim.qcow2" victim)
vsnap=$(snapshot "$victim" v1)
refused "$(with_backing onvictim.qcow2 victim.qcow2 qcow2)" "another volume's disk as backing" >/dev/null
read -r _ layer _ <<<"$(file_chain "$d/victim.qcow2")"
[[ -n "$layer" ]] || fail "the victim has no layer below its top: $(ls -a "$d")"
layer=$(basename "$layer")
refused "$(with_backing onlayer.qcow2 "$layer" qcow2)" "another volume's layer as backing" >/dev/null
pass "another volume's disk or layer as backing file → 400"

# Symlinks on the adopted path: a link to an outside dir, and a link to a
# file inside the manage dir.
ln -s "$T/outside" "$d/linkdir"
qemu-img create -q -f qcow2 "$T/outside/in-link.qcow2" 16M
refused "$d/linkdir/in-link.qcow2" "a path through a symlinked dir" >/dev/null
qemu-img create -q -f qcow2 "$d/real.qcow2" 16M
ln -s real.qcow2 "$d/alias.qcow2"
refused "$d/alias.qcow2" "a symlink to a disk in the manage dir" >/dev/null
m1=$(refused "/etc/passwd" "a host file")
m2=$(refused "/etc/no-such-file" "a missing host file")
[[ "$m1" == "$m2" ]] || fail "existing/missing host paths answered differently: '$m1' / '$m2'"
refused "$d/../outside/secret.raw" "a .. escape" >/dev/null
pass "symlinks on the path, host paths (same answer existing or not), .. → 400"

# A directory swapped for a symlink after adoption: the next snapshot of
# its disk fails, and neither the real files nor the link's target change.
mkdir -p "$d/tenant"
qemu-img create -q -f qcow2 "$d/tenant/t.qcow2" 64M
write_pattern "$d/tenant/t.qcow2" 0x55 0 1M
tvol=$(manage_disk "$d/tenant/t.qcow2" t)
snapshot "$tvol" t1 >/dev/null
# The link's target holds a full copy of the chain, so only the symlink
# check stands between the snapshot and the outside directory.
swap_for_link "$d/tenant" "$T/outside/evil" t.qcow2
api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$tvol\",\"name\":\"t2\"}}"
expect_code 202 "snapshot after the swap"
wait_snapshot "$(jget 'j["snapshot"]["id"]')" error
sides_unchanged "$d/tenant" "$T/outside/evil" t.qcow2 "after the swap"
pass "a directory swapped for a symlink: the snapshot fails, nothing on either side changes"

# The same swap while a snapshot runs, after its checks: stratad (the
# crash-point build) stops itself at create.rename_top, the directory is
# swapped, and the rename, made through a directory fd opened with no
# symlink allowed, fails instead of renaming the link target's disk.
stop_stratad
STRATA_STOP_AT=create.rename_top start_stratad
mkdir -p "$d/race"
qemu-img create -q -f qcow2 "$d/race/r.qcow2" 64M
write_pattern "$d/race/r.qcow2" 0x66 0 1M
rvol=$(manage_disk "$d/race/r.qcow2" r)
# In the background: the worker may stop the process before the 202 is
# written, and the answer then comes after SIGCONT.
(api POST /v3/snapshots "{\"snapshot\":{\"volume_id\":\"$rvol\",\"name\":\"r1\"}}"
 echo "$CODE" >"$T/race.code"; echo "$BODY" >"$T/race.body") &
post=$!
stopped() { [[ $(sed 's/.*) //' "/proc/$PID/stat" | cut -d' ' -f1) == T ]]; }
for _ in $(seq 600); do stopped && break; sleep 0.1; done
stopped || fail "stratad did not stop at create.rename_top"
swap_for_link "$d/race" "$T/outside/evil2" r.qcow2
kill -CONT "$PID"
wait "$post"
[[ $(cat "$T/race.code") == 202 ]] || fail "snapshot before the swap: $(cat "$T/race.body")"
BODY=$(cat "$T/race.body"); rsid=$(jget 'j["snapshot"]["id"]')
wait_snapshot "$rsid" error
sides_unchanged "$d/race" "$T/outside/evil2" r.qcow2 "mid-task"
reads_pattern "$d/race.real/r.qcow2" 0x66 0 1M || fail "the real disk's data changed"
grep -q "goes through a symlink" "$T/stratad.log" || fail "no symlink refusal logged"
pass "a directory swapped for a symlink mid-task: the rename fails, nothing on either side changes"

[[ $(sha256sum "$secret" | cut -d' ' -f1) == "$secret_sum" ]] || fail "the host file changed"
reads_pattern "$d/victim.qcow2" 0x44 0 1M || fail "the victim's data changed"
kill -0 "$PID" || fail "stratad died"
api GET /v3/volumes; expect_code 200 "still serving"
pass "stratad still serving; the host file and the victim's disk unchanged"
