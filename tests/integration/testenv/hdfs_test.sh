#!/usr/bin/env bash
# HDFS (WEBHDFS_ENDPOINT): the NameNode answers WebHDFS, sends reads and writes
# to a DataNode on 127.0.0.1, a file written through it reads back byte for
# byte, LISTSTATUS names it, a second exclusive create of the same path is
# refused (FileAlreadyExistsException: what the object source's claims rely
# on), and extended attributes are enabled (the source's "tag" action).
source "$(dirname "$0")/../lib.sh"
require_env WEBHDFS_ENDPOINT

dir=/$(unique_name sluice-testenv)
work=$(mktemp -d)
url() { echo "$WEBHDFS_ENDPOINT/webhdfs/v1$1?op=$2&user.name=sluice${3:+&$3}"; }
cleanup() {
  curl -sS -X DELETE "$(url "$dir" DELETE recursive=true)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
location() { python3 -c 'import json, sys; print(json.load(sys.stdin)["Location"])'; }

curl -sS --fail-with-body -X PUT "$(url "$dir" MKDIRS)" >"$work/out" || fail "MKDIRS $dir: $(cat "$work/out")"
head -c 100000 /dev/urandom >"$work/body"
target=$(curl -sS --fail-with-body -X PUT "$(url "$dir/f.bin" CREATE 'overwrite=false&noredirect=true')" | location) ||
  fail "CREATE $dir/f.bin on the NameNode"
[[ $target == http://127.0.0.1:* ]] || fail "the NameNode sends writes to $target, not to 127.0.0.1"
code=$(curl -sS -o "$work/out" -w '%{http_code}' -X PUT -H 'Expect:' --data-binary @"$work/body" "$target")
[[ $code == 201 ]] || fail "writing to the DataNode: HTTP $code $(cat "$work/out")"

curl -sS --fail-with-body -L "$(url "$dir/f.bin" OPEN)" -o "$work/read" || fail "OPEN $dir/f.bin"
cmp -s "$work/body" "$work/read" || fail "the file read back differs from what was written"
names=$(curl -sS --fail-with-body "$(url "$dir" LISTSTATUS)" |
  python3 -c 'import json, sys; print(" ".join(f["pathSuffix"] for f in json.load(sys.stdin)["FileStatuses"]["FileStatus"]))')
[[ $names == f.bin ]] || fail "LISTSTATUS $dir: got '$names', expected 'f.bin'"

target=$(curl -sS --fail-with-body -X PUT "$(url "$dir/f.bin" CREATE 'overwrite=false&noredirect=true')" | location)
code=$(curl -sS -o "$work/out" -w '%{http_code}' -X PUT -H 'Expect:' --data-binary x "$target")
[[ $code == 403 ]] && grep -q FileAlreadyExistsException "$work/out" ||
  fail "a second exclusive create: HTTP $code $(cat "$work/out")"

curl -sS --fail-with-body -X PUT \
  "$(url "$dir/f.bin" SETXATTR 'xattr.name=user.sluice&xattr.value=%22done%22&flag=CREATE')" >"$work/out" ||
  fail "SETXATTR: $(cat "$work/out")"
echo "PASS: WebHDFS at $WEBHDFS_ENDPOINT (DataNode on 127.0.0.1, exclusive create, xattrs)"
