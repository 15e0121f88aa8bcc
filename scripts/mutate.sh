#!/usr/bin/env bash
# Mutation testing with a list of planted one-line bugs (tests/mutations/*.mut).
#
# Each mutation names a file, an exact line fragment to find (it must occur
# exactly once), its replacement, and the suites that should catch it. The
# script copies the working tree to a scratch folder (reused between runs, so
# builds are incremental), checks that the unmutated tree passes those suites,
# then for each mutation: applies it, rebuilds compeit-server and core_tests,
# runs the suites in order until one fails (killed) or all pass (survived),
# and restores the file. A mutation whose fragment is no longer in the file
# (someone changed that code) is reported as "does not apply", not as an error.
#
#   scripts/mutate.sh [options] [MUTATION...]     MUTATION: a file or a name prefix, e.g. 13 or 13-rate
#     -j N          build jobs (default 2)
#     --dir DIR     scratch folder (default /tmp/compeit-mutate)
#     --timeout S   per suite (default 600)
#     --head        copy the last commit (git archive HEAD) instead of the working tree:
#                   a consistent snapshot while others are editing
#     --no-baseline skip the unmutated run
#     --list        print the mutations and whether each applies, then stop
#
# Suites: `core` (the Catch2 core_tests) and `node:<name>` (tests/node/<name>.test.mjs
# against the mutant's compeit-server). Prints the score (killed / (killed + survived))
# and the survivors; the full report goes to <dir>/report-<date>.txt and logs to <dir>/logs/.
# Run it niced on a shared machine:  nice -n 10 scripts/mutate.sh -j1
set -uo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
DIR=/tmp/compeit-mutate
JOBS=2
TIMEOUT=600
BASELINE=1
LIST=0
HEAD_ONLY=0
SELECT=()
while [ $# -gt 0 ]; do
  case "$1" in
    -j) JOBS="$2"; shift 2 ;;
    -j*) JOBS="${1#-j}"; shift ;;
    --dir) DIR="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    --no-baseline) BASELINE=0; shift ;;
    --head) HEAD_ONLY=1; shift ;;
    --list) LIST=1; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) SELECT+=("$1"); shift ;;
  esac
done

WORK="$DIR/src"
BUILD="$DIR/build"
LOGS="$DIR/logs"
mkdir -p "$WORK" "$LOGS"

say() { printf '%s\n' "$*"; }

# --- the mutation list -------------------------------------------------------------

MUTS=()
for f in "$SRC"/tests/mutations/*.mut; do
  name="$(basename "$f" .mut)"
  if [ ${#SELECT[@]} -gt 0 ]; then
    keep=0
    for s in "${SELECT[@]}"; do
      case "$name" in "$(basename "${s%.mut}")"*) keep=1 ;; esac
    done
    [ $keep = 1 ] || continue
  fi
  MUTS+=("$f")
done
[ ${#MUTS[@]} -gt 0 ] || { say "no mutations selected"; exit 2; }

field() { sed -n "s/^$2: \{0,1\}//p" "$1" | head -n 1; }

# mutate.py apply|check MUTFILE ROOT: exact, single-occurrence replacement.
# Exit 0 applied (or applies), 3 does not apply (the reason on stdout).
mutator() {
  python3 - "$@" <<'PY'
import sys, pathlib
mode, mut, root = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
fields = {}
for line in pathlib.Path(mut).read_text().splitlines():
    if line.startswith('#') or ':' not in line:
        continue
    key, _, value = line.partition(':')
    fields.setdefault(key.strip(), value[1:] if value.startswith(' ') else value)
path = root / fields['file']
if not path.exists():
    print(f"{fields['file']} no longer exists"); sys.exit(3)
text = path.read_text()
n = text.count(fields['find'])
if n != 1:
    print(f"the fragment occurs {n} times in {fields['file']}"); sys.exit(3)
if mode == 'apply':
    path.write_text(text.replace(fields['find'], fields.get('replace', ''), 1))
PY
}

# --- sync the copy (only files whose content changed are rewritten: incremental) ----

PATHS=(CMakeLists.txt core native tests bench wasm web toolchains package.json)
sync_tree() {
  local n=0 from="$SRC" list
  if [ $HEAD_ONLY = 1 ]; then
    from="$DIR/export"
    rm -rf "$from" && mkdir -p "$from"
    git -C "$SRC" archive HEAD -- "${PATHS[@]}" | tar -x -C "$from"
    list() { (cd "$from" && find "${PATHS[@]}" -type f -print0); }
  else
    list() { git -C "$SRC" ls-files -z -co --exclude-standard -- "${PATHS[@]}"; }
  fi
  while IFS= read -r -d '' rel; do
    [ -f "$from/$rel" ] || continue
    if ! cmp -s "$from/$rel" "$WORK/$rel"; then
      mkdir -p "$WORK/$(dirname "$rel")"
      cp "$from/$rel" "$WORK/$rel"
      n=$((n + 1))
    fi
  done < <(list)
  [ -e "$WORK/node_modules" ] || ln -s "$SRC/node_modules" "$WORK/node_modules"
  say "synced $n changed files from $([ $HEAD_ONLY = 1 ] && echo "HEAD ($(git -C "$SRC" rev-parse --short HEAD))" || echo "the working tree") into $WORK"
}

# build LOG [TARGET...]: incremental (default: both targets)
build() {
  local log="$1"; shift
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    cmake -S "$WORK" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOMPEIT_WERROR=OFF >"$LOGS/configure.log" 2>&1 || return 1
  fi
  [ $# -gt 0 ] || set -- compeit-server core_tests
  cmake --build "$BUILD" --target "$@" -j "$JOBS" >>"$log" 2>&1
}
target_of() { case "$1" in core) echo core_tests ;; *) echo compeit-server ;; esac; }

# run_suite SUITE LOG: 0 passed, 1 failed
run_suite() {
  local suite="$1" log="$2"
  case "$suite" in
    core)
      timeout "$TIMEOUT" "$(find "$BUILD/tests" -name core_tests -type f -perm -u+x | head -n 1)" >"$log" 2>&1 ;;
    node:*)
      (cd "$WORK" && COMPEIT_SERVER="$BUILD/bin/compeit-server" \
        timeout "$TIMEOUT" node --test --test-concurrency=1 "tests/node/${suite#node:}.test.mjs") >"$log" 2>&1 ;;
    *) say "unknown suite $suite" >>"$log"; return 1 ;;
  esac
}

restore() {  # the copy's file as it was before the mutation (a fresh mtime: make rebuilds it)
  [ -n "${CURRENT_FILE:-}" ] && cp "$DIR/original" "$WORK/$CURRENT_FILE"
  CURRENT_FILE=
}
trap 'restore; exit 130' INT TERM

sync_tree

if [ $LIST = 1 ]; then
  for m in "${MUTS[@]}"; do
    why="$(mutator check "$m" "$WORK")" && why="applies"
    printf '%-40s %s\n' "$(basename "$m" .mut)" "$why"
  done
  exit 0
fi

STAMP="$(date -u +%Y-%m-%dT%H%MZ)"
REPORT="$DIR/report-$STAMP.txt"
say "mutation run $STAMP of $(git -C "$SRC" rev-parse --short HEAD) ($([ $HEAD_ONLY = 1 ] && echo "the commit" || echo "working tree")), ${#MUTS[@]} mutations" | tee "$REPORT"

say "building the unmutated tree..."
: >"$LOGS/build-base.log"
build "$LOGS/build-base.log" || { say "the unmutated tree does not build: $LOGS/build-base.log"; exit 1; }

if [ $BASELINE = 1 ]; then
  suites=$(for m in "${MUTS[@]}"; do field "$m" suites; done | tr ' ' '\n' | sort -u)
  for s in $suites; do
    if ! run_suite "$s" "$LOGS/base.${s/:/-}.log"; then
      say "BASELINE: suite $s fails without any mutation ($LOGS/base.${s/:/-}.log); fix that first" | tee -a "$REPORT"
      exit 1
    fi
    say "baseline: $s passes"
  done
fi

killed=0; survived=0; notapplied=0; stillborn=0
SURVIVORS=(); NOTAPPLIED=()
for m in "${MUTS[@]}"; do
  name="$(basename "$m" .mut)"
  file="$(field "$m" file)"
  t0=$(date +%s)
  [ -f "$WORK/$file" ] && cp "$WORK/$file" "$DIR/original"
  if ! why="$(mutator apply "$m" "$WORK")"; then
    say "$name: does not apply ($why)" | tee -a "$REPORT"
    notapplied=$((notapplied + 1)); NOTAPPLIED+=("$name")
    continue
  fi
  CURRENT_FILE="$file"
  : >"$LOGS/$name.build.log"
  verdict=""
  built=" "
  for s in $(field "$m" suites); do
    t="$(target_of "$s")"
    if [ "${built/ $t /}" = "$built" ]; then  # each target built once, when a suite first needs it
      if ! build "$LOGS/$name.build.log" "$t"; then verdict="stillborn"; break; fi
      built="$built$t "
    fi
    if ! run_suite "$s" "$LOGS/$name.${s/:/-}.log"; then verdict="killed by $s"; break; fi
  done
  restore
  if [ "$verdict" = stillborn ]; then
    say "$name: does not build (not counted; $LOGS/$name.build.log)" | tee -a "$REPORT"
    stillborn=$((stillborn + 1))
    continue
  fi
  if [ -n "$verdict" ]; then
    killed=$((killed + 1))
  else
    verdict="SURVIVED ($(field "$m" suites))"
    survived=$((survived + 1)); SURVIVORS+=("$name: $(sed -n 's/^# //p' "$m" | head -n 1)")
  fi
  say "$name: $verdict ($(( $(date +%s) - t0 )) s)" | tee -a "$REPORT"
done

# leave the copy built unmutated for the next run
build "$LOGS/build-base.log" >/dev/null 2>&1

total=$((killed + survived))
{
  say ""
  if [ $total -gt 0 ]; then
    say "score: $killed/$total killed ($(( 100 * killed / total ))%); $notapplied did not apply, $stillborn did not build"
  else
    say "score: no mutation ran; $notapplied did not apply, $stillborn did not build"
  fi
  [ ${#SURVIVORS[@]} -gt 0 ] && { say "survivors:"; printf '  %s\n' "${SURVIVORS[@]}"; }
  [ ${#NOTAPPLIED[@]} -gt 0 ] && { say "did not apply (update tests/mutations/ for the current code):"; printf '  %s\n' "${NOTAPPLIED[@]}"; }
} | tee -a "$REPORT"
say "report: $REPORT"
[ $survived -eq 0 ]
