#!/usr/bin/env bash
# Package a built one-folder bundle (installer/build_bundle.py) as a Debian package.
#
#   installer/build_deb.sh [--bundle DIR] [--out DIR] [--version V] [--compress zstd|xz|gzip]
#
# Layout: /opt/voxdesk/ (the bundle), /usr/bin/voxdesk -> /opt/voxdesk/voxdesk,
# /usr/share/applications/voxdesk.desktop, /usr/share/icons/hicolor/*/apps/voxdesk.{png,svg},
# /usr/share/doc/voxdesk/copyright. Files are owned by root (--root-owner-group), no fakeroot.
# dpkg's triggers refresh the icon cache and desktop database; no maintainer scripts are needed.
# The last line printed is the path of the .deb.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
bundle="$root/dist/voxdesk"
out="$root/dist"
version=""
compress="zstd"   # 84 MB in ~1 s; xz is ~25% smaller but takes a minute

while [ $# -gt 0 ]; do
    case "$1" in
        --bundle) bundle=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --version) version=$2; shift 2 ;;
        --compress) compress=$2; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "build_deb: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [ ! -x "$bundle/voxdesk" ]; then
    echo "build_deb: no bundle at $bundle; build it first: .venv/bin/python installer/build_bundle.py" >&2
    exit 1
fi
if [ -z "$version" ]; then
    version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$root/app/__init__.py")
fi
[ -n "$version" ] || { echo "build_deb: cannot read __version__ from app/__init__.py" >&2; exit 1; }
arch=$(dpkg --print-architecture)
mkdir -p "$out"
out=$(cd "$out" && pwd)
deb="$out/voxdesk_${version}_${arch}.deb"

umask 022
stage=$(mktemp -d "${TMPDIR:-/tmp}/voxdesk-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg="$stage/root"
mkdir -p "$pkg/DEBIAN" "$pkg/opt" "$pkg/usr/bin" "$pkg/usr/share/applications" \
    "$pkg/usr/share/doc/voxdesk"

cp -a "$bundle" "$pkg/opt/voxdesk"
chmod -R u+rwX,go+rX,go-w "$pkg/opt/voxdesk"
ln -s /opt/voxdesk/voxdesk "$pkg/usr/bin/voxdesk"

# Desktop entry and icons come from resources/ (owned by the GUI); a minimal entry and a generated
# icon stand in when they are missing, so the package is always complete.
desktop="$root/resources/voxdesk.desktop"
if [ -f "$desktop" ]; then
    install -m 0644 "$desktop" "$pkg/usr/share/applications/voxdesk.desktop"
else
    cat > "$pkg/usr/share/applications/voxdesk.desktop" <<'EOF'
[Desktop Entry]
Type=Application
Name=VoxDesk
GenericName=Voice Assistant
Comment=Talk to an assistant: push-to-talk or hands-free
Exec=voxdesk
TryExec=voxdesk
Icon=voxdesk
Terminal=false
Categories=Utility;
StartupWMClass=voxdesk
EOF
    chmod 0644 "$pkg/usr/share/applications/voxdesk.desktop"
fi
icons="$root/resources/icons"
found_icon=0
for png in "$icons"/voxdesk-*.png; do
    [ -f "$png" ] || continue
    size=${png##*/voxdesk-}; size=${size%.png}
    install -D -m 0644 "$png" "$pkg/usr/share/icons/hicolor/${size}x${size}/apps/voxdesk.png"
    found_icon=1
done
svg="$icons/voxdesk.svg"
if [ ! -f "$svg" ]; then
    svg="$stage/voxdesk.svg"
    cat > "$svg" <<'EOF'
<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">
  <rect width="256" height="256" rx="48" fill="#2563eb"/>
  <rect x="100" y="48" width="56" height="104" rx="28" fill="#fff"/>
  <path d="M72 124a56 56 0 0 0 112 0" fill="none" stroke="#fff" stroke-width="14"/>
  <rect x="121" y="180" width="14" height="32" fill="#fff"/>
</svg>
EOF
fi
install -D -m 0644 "$svg" "$pkg/usr/share/icons/hicolor/scalable/apps/voxdesk.svg"
[ "$found_icon" = 1 ] || echo "build_deb: no PNG icons in $icons; shipping the SVG only" >&2

cat > "$pkg/usr/share/doc/voxdesk/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: voxdesk

Files: *
Copyright: VoxDesk developers
License: GPL-3.0-or-later
 The bundled default voice engine (piper-tts) is GPL-3.0-or-later. Third-party components in
 /opt/voxdesk/_internal keep their own licenses (see their *.dist-info directories).
 On Debian systems the full text is in /usr/share/common-licenses/GPL-3.
EOF
chmod 0644 "$pkg/usr/share/doc/voxdesk/copyright"

installed_kib=$(du -sk --apparent-size "$pkg" | cut -f1)
# Depends: libc6 >= the newest GLIBC_ symbol version in the bundle (objdump -T); libraries the bundle loads from the system (PyInstaller leaves out libGL/libEGL, libxcb
# and the Wayland client libraries; sounddevice and the SpeexDSP backend look for the system
# PortAudio/SpeexDSP first) plus fonts, without which Qt draws empty boxes without an error.
cat > "$pkg/DEBIAN/control" <<EOF
Package: voxdesk
Version: $version
Architecture: $arch
Maintainer: VoxDesk developers <maintainers@voxdesk.invalid>
Installed-Size: $installed_kib
Depends: libc6 (>= 2.36), libportaudio2, libasound2, libspeexdsp1, libgl1, libegl1, libxcb1, libwayland-client0, libwayland-cursor0, libwayland-egl1, fontconfig, fonts-dejavu-core
Recommends: pulseaudio | pipewire-pulse, libasound2-plugins, espeak-ng, flite
Suggests: gnome-keyring
Section: sound
Priority: optional
Homepage: https://voxdesk.invalid/
Description: desktop voice assistant with realtime speech and barge-in
 VoxDesk is a native desktop voice assistant: push-to-talk or hands-free,
 realtime speech-to-speech over the OpenAI Realtime protocol, and instant
 interruption when you start talking. It includes an offline engine (Whisper
 speech recognition and a Piper voice) that needs no network.
EOF

dpkg-deb --build --root-owner-group "-Z$compress" "$pkg" "$deb" >&2
echo "$deb"
