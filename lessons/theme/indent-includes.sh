#!/bin/sh
# mdBook preprocessor: keep {{#include}} inside a list item indented.
# mdBook pastes an included file as it is, so only its first line keeps the
# indentation of the step it sits in, and the numbered list breaks after it.
# Run as "mark" before mdBook's links preprocessor: it marks each indented
# include with its indentation. Run as "indent" after it: it indents every
# line of the pasted text by that much, and drops the "# ANCHOR:" lines
# that a whole-file include would show. Needs sh and jq (both are in the
# tools image and on the CI machines).
set -eu
[ "${1:-}" = "supports" ] && exit 0
case "${1:-}" in
  mark) prog='gsub("(?<ind>(^|\n)[ ]+)(?<dir>\\{\\{#include [^}]+\\}\\})"; "\(.ind)⟦\(.ind | ltrimstr("\n") | length)⟧\(.dir)⟦/⟧")' ;;
  indent) prog='gsub("⟦(?<n>[0-9]+)⟧(?<body>[^⟦]*)⟦/⟧"; (.n | tonumber) as $n | .body | rtrimstr("\n") | gsub("\n"; "\n" + ([range($n)] | map(" ") | add // "")))
    | gsub("\n[ \t]*(#|//)[ \t]*ANCHOR(_END)?:[ \t]*[A-Za-z0-9_-]+[ \t]*(?=\n)"; "")' ;;
  *) echo "usage: $0 mark|indent (an mdBook preprocessor)" >&2; exit 2 ;;
esac
exec jq -c ".[1] | (.. | objects | select(has(\"Chapter\")) | .Chapter.content) |= ($prog)"
