#!/usr/bin/env bash
# Everything CI needs for the C ABI (issue 3), from a clean clone:
#   1. apt packages (gcc, valgrind, mono) when missing
#   2. the cdylib with the test-only emulator and the stdcall twins
#   3. the header check against a pinned cbindgen
#   4. the C suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   5. the .NET wrapper's suite and the order manager's trial (DotnetTrial.cs) under mono
#   6. the README's C and C# examples compile (the C one runs)
# (.ci/fuzz.sh runs the cargo fuzz targets, ffi_strings among them; `cargo test` always runs
# the stable 20k-case property test over the same entry points, tests/ffi_fuzz.rs.)
# Exits non-zero on any failure; the last line says which steps passed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
jobs="${CARGO_BUILD_JOBS:-2}"
out="$CARGO_TARGET_DIR/ffi-tests"
mkdir -p "$out"
failures=()
step() { echo; echo "== ffi: $*"; }
fail() { echo "ffi: FAILED: $*"; failures+=("$1"); }

step "packages"
need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v g++ >/dev/null || need+=(g++)
command -v nm >/dev/null || need+=(binutils)
command -v mcs >/dev/null || need+=(mono-mcs)
command -v mono >/dev/null || need+=(mono-runtime)
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null; } || fail "apt-get install ${need[*]}"
fi

step "build the cdylib (feature emulator, --cfg invsync_std_twins)"
# The cfg goes to this crate only (cargo rustc), so dependencies are not rebuilt for it.
if ! cargo rustc -j "$jobs" --lib --features emulator --quiet -- --cfg invsync_std_twins; then
    fail "build"
    echo "ffi: FAILED: build; nothing else can run"
    exit 1
fi
lib="$CARGO_TARGET_DIR/debug"
nm -D --defined-only "$lib/libinventory_sync.so" | grep -q ' invsync_send_qoh_std$' \
    || fail "the stdcall twins are missing from the library"

step "header"
bash .ci/header.sh || fail "header"

step "C suite (ASan + UBSan)"
if gcc -std=c11 -Wall -Wextra -Werror -Wpedantic -g -fno-omit-frame-pointer \
        -fsanitize=address,undefined -fno-sanitize-recover=undefined \
        -Iinclude tests/c/test_ffi.c -L"$lib" -linventory_sync -Wl,-rpath,"$lib" \
        -o "$out/test_ffi"; then
    # Every declaration and the callback type carry INVSYNC_CALL, in places a compiler takes a
    # calling convention: with another convention named there, the suite (whose callbacks and
    # function-pointer types say INVSYNC_CALL, as a host's must) still type-checks, and the
    # header compiles as C++ too.
    gcc -std=c11 -Wall -Wextra -Werror -Wpedantic -Iinclude '-DINVSYNC_CALL=__attribute__((ms_abi))' \
        -fsyntax-only tests/c/test_ffi.c || fail "INVSYNC_CALL is missing or misplaced"
    echo '#include "inventory_sync.h"' | g++ -x c++ -std=c++11 -Wall -Wextra -Werror -Wpedantic -Iinclude \
        '-DINVSYNC_CALL=__attribute__((ms_abi))' -DINVSYNC_EMULATOR -fsyntax-only - \
        || fail "INVSYNC_CALL is misplaced for C++"
    # The header must also compile as C++ (cpp_compat).
    echo '#include "inventory_sync.h"' | g++ -x c++ -std=c++11 -Wall -Wextra -Werror -Wpedantic -Iinclude -fsyntax-only - \
        || fail "header does not compile as C++"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$out/test_ffi" || fail "C suite"
else
    fail "C suite does not compile"
fi

step ".NET suite (mono)"
if mcs -langversion:7.2 -warnaserror+ -out:"$out/InventorySyncTests.exe" \
        bindings/dotnet/InventorySync.cs bindings/dotnet/tests/InventorySyncTests.cs; then
    LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" mono "$out/InventorySyncTests.exe" \
        || fail ".NET suite"
else
    fail ".NET suite does not compile"
fi
# The order manager's trial (DotnetTrial.cs): a back office written from the docs alone, and
# the findings it left; its own Main, so built on its own.
if mcs -langversion:7.2 -warnaserror+ -out:"$out/DotnetTrial.exe" \
        bindings/dotnet/InventorySync.cs bindings/dotnet/tests/DotnetTrial.cs; then
    LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" mono "$out/DotnetTrial.exe" \
        || fail ".NET trial"
else
    fail ".NET trial does not compile"
fi

# The README's C and C# examples, as a host would paste them: they compile against the header
# and the wrapper (the C one is also run on a fresh store: it fails there, as the item is not
# defined, and says why). A host's own names in the C# one (its form's controls, the form's
# Store) are declared around it.
step "README examples compile"
readme_block() { awk -v lang="$1" '$0 == "```" lang {f=1; next} f && /^```/ {exit} f' README.md; }
readme_block c > "$out/readme_example.c"
if gcc -std=c11 -Wall -Wextra -Werror -Wpedantic -Iinclude "$out/readme_example.c" \
        -L"$lib" -linventory_sync -Wl,-rpath,"$lib" -o "$out/readme_example"; then
    ( cd "$out" && rm -f store.db* && ./readme_example 2>&1 | grep -q 'TEE-M' ) \
        || fail "README's C example does not say which item it could not adjust"
    rm -f "$out"/store.db*
else
    fail "README's C example does not compile"
fi
{
    readme_block csharp | grep '^using [A-Za-z.]*;'
    echo 'class Box { public string Text = ""; public int Value; }'
    echo 'static class MessageBox { public static void Show(string s) { Console.WriteLine(s); } }'
    echo 'class Form { Box skuBox = new Box(), descriptionBox = new Box(), bar = new Box();'
    echo '  Store formStore = null;'
    echo '  async Task Example() {'
    readme_block csharp | grep -v '^using [A-Za-z.]*;'
    echo '  }'
    echo '  static void Main() {}'
    echo '}'
} > "$out/ReadmeExample.cs"
mcs -langversion:7.2 -warnaserror+ -nowarn:169,219,414,649 -out:"$out/ReadmeExample.exe" \
        bindings/dotnet/InventorySync.cs "$out/ReadmeExample.cs" \
    || fail "README's C# example does not compile"

echo
if [ ${#failures[@]} -eq 0 ]; then
    echo "ffi: all steps passed (build, header, C suite under ASan+UBSan, .NET suite under mono, README examples)"
    exit 0
fi
echo "ffi: ${#failures[@]} step(s) failed: ${failures[*]}"
exit 1
