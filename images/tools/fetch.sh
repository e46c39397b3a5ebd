#!/bin/sh
# fetch.sh: download one file and check its sha256 checksum.
#
#   fetch.sh <tool> <version> <arch> <url> <file>
#
# The expected checksum comes from SHA256SUMS (next to this script),
# from the line that ends with "<tool>-<version>-<arch>".
# Some projects name the architectures x86_64 and aarch64 in their links:
# write {machine} in the url, and it becomes that name for amd64 and arm64.
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

case "$url" in
  *"{machine}"*)
    case "$arch" in
      amd64) machine=x86_64 ;;
      arm64) machine=aarch64 ;;
      *) echo "✖ This image supports amd64 and arm64, not $arch." >&2; exit 1 ;;
    esac
    url=$(printf '%s' "$url" | sed "s/{machine}/$machine/g") ;;
esac

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
