cd "$1"; shift; "$@"
