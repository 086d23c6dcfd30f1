#!/usr/bin/env bash
# The two things the suite needs from the system rather than PyPI, installed with apt-get
# where missing and allowed (root): a CJK font for Chinese postmortem PDFs
# (docs/adr/postmortems.md) and Debian's Chromium for the console's browser journeys
# (tests/browser; Playwright's own browser download is never used). Elsewhere it says what
# to install and leaves the tests to name what is missing.
set -euo pipefail

missing=()
fc-list :lang=zh 2>/dev/null | grep -q . || missing+=(fonts-wqy-microhei)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
  echo "system packages missing: ${missing[*]} (install them, e.g. apt-get install ${missing[*]})" >&2
fi
