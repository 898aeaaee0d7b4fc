# Sourced by the scripts that build a rootfs with debootstrap (scripts/systemd-node,
# scripts/build-real-images). The caller defines log and die.
#
#   debootstrap_cached ROOT CACHE SUITE VARIANT MIRROR PACKAGES
#
# debootstraps into ROOT (an empty directory), or unpacks the cached result of an earlier run with
# the same suite, variant, mirror and package list from CACHE/base-HASH.tar. One package list is
# kept per CACHE: older results are dead weight. A failed debootstrap is tried once more (a mirror
# hiccups now and then). Apt's downloaded packages and lists are not kept in the result.

debootstrap_cached() {
  local root=$1 cache=$2 suite=$3 variant=$4 mirror=$5 packages=$6
  local base attempt out=$cache/debootstrap.log
  base=$cache/base-$(echo "$suite $mirror $variant $packages" | sha256sum | cut -c1-16).tar
  mkdir -p "$cache"
  if [ -f "$base" ]; then
    log "debootstrap: cached ($base), unpacking"
    tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -xpf "$base"
    log "debootstrap: unpacked"
    return
  fi
  command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"
  log "debootstrap: $suite ($variant) from $mirror with $packages (takes a few minutes)"
  for attempt in 1 2; do
    debootstrap --variant="$variant" --include="$packages" "$suite" "$root" "$mirror" >"$out" 2>&1 && break
    tail -n 30 "$out" >&2
    [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
    [ "$attempt" = 1 ] || die "debootstrap failed twice (full output: $out)"
    log "debootstrap: failed, trying once more"
    umount -R "$root/proc" "$root/sys" 2>/dev/null || true
    rm -rf --one-file-system "${root:?}"/* "${root:?}"/.[!.]* 2>/dev/null || true
  done
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root/debootstrap"
  log "debootstrap: done, caching the result"
  rm -f "$cache"/base-*.tar
  tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -cf "$base.tmp" .
  mv "$base.tmp" "$base"
  log "debootstrap: cached as $base ($(du -h "$base" | cut -f1))"
}
