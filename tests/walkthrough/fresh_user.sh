# fresh_user.sh — sourced by the walkthroughs (walk_docs.sh, walk_new_task.sh,
# walk_server.sh): what `scripts/setup` leaves a new user with, without
# touching the system. Each function reports through the caller's `fail`.

# walk_install CMAKE BUILD PREFIX: `cmake --install BUILD --prefix PREFIX`,
# its log in PREFIX.install.log (shown when it fails).
walk_install() {
  "$1" --install "$2" --prefix "$3" >"$3.install.log" 2>&1 ||
    { cat "$3.install.log" >&2; fail "cmake --install $2 --prefix $3"; }
}

# walk_fresh_user DIR PREFIX [DATA_DIR]: HOME and every XDG folder fresh
# under DIR (XDG_RUNTIME_DIR mode 700), every TORCHEXAM_* variable unset
# (TORCHEXAM_DATA_DIR set to DATA_DIR when given), PREFIX/bin first on PATH,
# and checks that `torchexam` is the installed one.
walk_fresh_user() {
  local dir=$1 prefix=$2 data=${3:-} v
  mkdir -p "$dir/home" "$dir/config" "$dir/cache" "$dir/data" "$dir/state" "$dir/run"
  chmod 700 "$dir/run"
  for v in $(env | sed -n 's/^\(TORCHEXAM_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
  export HOME="$dir/home" XDG_CONFIG_HOME="$dir/config" XDG_CACHE_HOME="$dir/cache" XDG_DATA_HOME="$dir/data" \
    XDG_STATE_HOME="$dir/state" XDG_RUNTIME_DIR="$dir/run"
  [ -z "$data" ] || export TORCHEXAM_DATA_DIR="$data"
  export PATH="$prefix/bin:$PATH"
  [ "$(command -v torchexam)" = "$prefix/bin/torchexam" ] || fail "torchexam on PATH is $(command -v torchexam)"
}
