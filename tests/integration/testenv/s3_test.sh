#!/usr/bin/env bash
# S3 (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY): a new bucket takes four
# objects; ListObjectsV2 returns exactly their keys (and exactly the two under
# a prefix), and an object reads back byte for byte. Requests are signed with
# AWS Signature V4 by curl itself.
source "$(dirname "$0")/../lib.sh"
require_env S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY
region=${S3_REGION:-us-east-1}

bucket=$(unique_name sluice-testenv-bkt)
keys=(alpha/one.txt alpha/two.txt beta/three.json top-level.bin)
work=$(mktemp -d)

s3() {
  curl -sS --fail-with-body --aws-sigv4 "aws:amz:$region:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}
cleanup() {
  for k in "${keys[@]}"; do s3 -X DELETE "$S3_ENDPOINT/$bucket/$k" >/dev/null 2>&1 || true; done
  s3 -X DELETE "$S3_ENDPOINT/$bucket" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

s3 -X PUT "$S3_ENDPOINT/$bucket" >"$work/out" || fail "creating bucket $bucket: $(cat "$work/out")"
for k in "${keys[@]}"; do
  printf 'content of %s\n' "$k" >"$work/body"
  s3 -T "$work/body" "$S3_ENDPOINT/$bucket/$k" >"$work/out" || fail "putting $k: $(cat "$work/out")"
done

# Prints the keys of a ListObjectsV2 response (one per line, sorted).
list_keys() {
  s3 "$S3_ENDPOINT/$bucket?list-type=2$1" | python3 -c '
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
ns = {"s3": "http://s3.amazonaws.com/doc/2006-03-01/"}
assert root.tag.endswith("ListBucketResult"), root.tag
print("\n".join(sorted(k.text for k in root.findall("s3:Contents/s3:Key", ns))))
'
}

all=$(list_keys "") || fail "listing $bucket"
expected=$(printf '%s\n' "${keys[@]}" | sort)
[[ $all == "$expected" ]] || fail "ListObjectsV2 of $bucket: expected [$expected], got [$all]"

# SigV4 signs the query as sent: "/" in a value must already be percent-encoded.
under_alpha=$(list_keys "&prefix=alpha%2F") || fail "listing $bucket with a prefix"
[[ $under_alpha == $'alpha/one.txt\nalpha/two.txt' ]] ||
  fail "ListObjectsV2 with prefix alpha/: expected alpha/one.txt and alpha/two.txt, got [$under_alpha]"

got=$(s3 "$S3_ENDPOINT/$bucket/beta/three.json") || fail "getting beta/three.json"
[[ $got == "content of beta/three.json" ]] || fail "beta/three.json read back as [$got]"
echo "PASS: bucket $bucket holds exactly ${#keys[@]} listed objects"
