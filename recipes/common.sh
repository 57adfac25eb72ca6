# Shell helpers the recipes share; sourced (source recipes/common.sh), not run.

# print_header FILE: FILE's opening comment block (after the #! line) without its "# ", i.e. the
# recipe's --help / usage text, however long
print_header() { awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$1"; }

# fresh_workdir DIR RECIPE: DIR emptied for a new run (reruns start over), refusing, with exit 2, a
# non-empty DIR that RECIPE did not make (a typo such as "." or "$HOME"): RECIPE leaves a marker
fresh_workdir() {
  local marker="$1/.unilmv2-${2%.sh}"
  if [ -n "$(ls -A "$1" 2> /dev/null)" ] && [ ! -e "$marker" ]; then
    echo "$2: $1 exists, is not empty and was not made by $2; give a new or empty folder" >&2; exit 2
  fi
  rm -rf "$1" && mkdir -p "$1" && touch "$marker"
}
