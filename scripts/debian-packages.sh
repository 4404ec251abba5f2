# Sourced by the scripts that start test services (scripts/postgres/, scripts/slurm/).
#
#   install_debian_packages WHO PACKAGE...
#
# Installs the Debian packages not yet installed (as root), or, when not root, says which are
# missing and fails. WHO prefixes the messages, all on stderr.
install_debian_packages() {
  local who=$1 missing=() p
  shift
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "$who: Debian's ${missing[*]} not installed; install as root: apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "$who: installing Debian's ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
