#!/bin/sh
# fetch.sh: download one file and check its sha256 checksum.
#
#   fetch.sh <tool> <version> <arch> <url> <file>
#
# The expected checksum comes from SHA256SUMS (next to this script),
# from the line that ends with "<tool>-<version>-<arch>".
# The script stops with a clear message when the line is missing
# or when the download does not match. It never keeps a bad file.
set -eu

if [ "$#" -ne 5 ]; then
  echo "✖ fetch.sh needs 5 arguments: tool version arch url file" >&2
  exit 2
fi
tool=$1 version=$2 arch=$3 url=$4 file=$5
sums="${SHA256SUMS:-$(dirname "$0")/SHA256SUMS}"
key="$tool-$version-$arch"

expected=$(awk -v key="$key" '$2 == key { print $1 }' "$sums")
if [ -z "$expected" ]; then
  echo "✖ No checksum for $key in $sums." >&2
  echo "  Add the line '<sha256>  $key' to images/tools/SHA256SUMS." >&2
  exit 1
fi

echo "Downloading $tool $version for $arch ..."
if ! curl -fsSL --retry 3 -o "$file" "$url"; then
  rm -f "$file"
  echo "✖ Could not download $url" >&2
  exit 1
fi

actual=$(sha256sum "$file" | cut -d ' ' -f 1)
if [ "$actual" != "$expected" ]; then
  rm -f "$file"
  echo "✖ The checksum of $tool $version ($arch) is wrong." >&2
  echo "  expected: $expected" >&2
  echo "  got:      $actual" >&2
  exit 1
fi
echo "✔ $tool $version ($arch): checksum is right."
