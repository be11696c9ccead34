#!/usr/bin/env bash
# The demo `make demo` runs: two weekly releases of the sample workspace, with a commit between
# them that changes a feature overlay, so week 2 has incremental OTAs, a changelog and an index.
# Everything goes to build/demo/ (git-ignored); the sample workspace itself is never modified.
set -euo pipefail
cd "$(dirname "$0")/.."
ROMFORGE=.venv/bin/romforge
DEMO=build/demo
WS=$DEMO/workspace
BASE_CACHE=examples/workspace/base/sample-rom
GIT=(git -c user.name="romforge demo" -c user.email=demo@romforge.invalid -c commit.gpgsign=false)

test -e "$BASE_CACHE" || "$ROMFORGE" sample-rom "$BASE_CACHE" --seed 1
rm -rf "$WS"
mkdir -p "$WS"
tar -C examples/workspace --exclude=./base --exclude=./releases --exclude=./keys -cf - . | tar -C "$WS" -xf -
mkdir -p "$WS/base"
cp -a "$BASE_CACHE" "$WS/base/sample-rom"
"$ROMFORGE" ota keygen "$WS/keys/releasekey" >/dev/null   # a clearly named TEST key, never committed
printf 'base/\nreleases/\nkeys/\n' > "$WS/.gitignore"
(cd "$WS" && "${GIT[@]}" init -q && "${GIT[@]}" add -A \
    && GIT_AUTHOR_DATE=2026-11-23T10:00:00Z GIT_COMMITTER_DATE=2026-11-23T10:00:00Z "${GIT[@]}" commit -qm "Week 48: flashlight tile, call answer time, notification LED (#1, #2)")

echo "== week 2026-W48"
"$ROMFORGE" weekly --workspace "$WS" --week 2026-W48 --jobs 2

# A community request lands: the flashlight tile moves to the front of Quick Settings.
sed -i -e 's/^version = "1.0"/version = "1.1"/' \
       -e 's/quick_settings_tiles_default = "internet,bt,flashlight,/quick_settings_tiles_default = "flashlight,internet,bt,/' \
       "$WS/overlays/flashlight-tile/overlay.toml"
(cd "$WS" && GIT_AUTHOR_DATE=2026-11-30T10:00:00Z GIT_COMMITTER_DATE=2026-11-30T10:00:00Z \
    "${GIT[@]}" commit -qam "flashlight-tile: first in Quick Settings, as voted in #12")

echo "== week 2026-W49"
"$ROMFORGE" weekly --workspace "$WS" --week 2026-W49 --jobs 2

# What a phone on last week's build sees when its Updater checks: the URL stamped in its build.prop,
# resolved to the site, and each entry judged by the app's rules and update_engine's checks.
echo "== the Updater on a cepheus phone running 2026.48.1"
"$ROMFORGE" updater simulate cepheus --from 2026.48.1 --workspace "$WS"

for device in $(ls "$WS/releases" | grep -v '^site$'); do
    latest=$(ls "$WS/releases/$device" | sort -V | tail -1)
    "$ROMFORGE" bootanim preview "$WS/releases/$device/$latest/target-files.zip" -o "$DEMO/$device-bootanimation.png"
    echo "changelog: $WS/releases/$device/$latest/changelog.md"
done
"$ROMFORGE" site screenshot "$WS/releases/site/cepheus.html" -o "$DEMO/site-cepheus.png" >/dev/null
echo "download site: $WS/releases/site/index.html (screenshot: $DEMO/site-cepheus.png)"
