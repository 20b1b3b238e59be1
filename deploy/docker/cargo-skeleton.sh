#!/bin/sh
# Copies the Cargo workspace in SRC to OUT with every manifest and lock file kept and every crate
# root replaced by a stub, so that the Dockerfile can build the dependencies in a layer of
# their own: that layer is rebuilt only when a manifest, Cargo.lock or .cargo/config.toml changes,
# not on every source edit (what cargo-chef does, without installing it).
#
#   sh deploy/docker/cargo-skeleton.sh SRC OUT
#
# Stubbed: src/lib.rs (a doc comment), src/main.rs, src/bin/, examples/, tests/ and benches/ crate
# roots (`fn main() {}`), so that targets declared in a manifest (`[[example]]`, `[[bin]]`, ...) still
# exist. build.rs files are copied as they are. A manifest that gives a target a custom `path`
# needs that path added here. deploy/check.sh runs this script and `cargo check --locked` on its
# output, so a workspace change that breaks it fails CI rather than the next image build.
set -eu

src=${1:?usage: cargo-skeleton.sh SRC OUT}
out=${2:?usage: cargo-skeleton.sh SRC OUT}
mkdir -p "$out"
cd "$src"

# Outside build output (any target/ directory), .git/ and the destination (which may lie in SRC).
list() {
    find . \( -type d \( -name target -o -name .git \) -o -path "./${out#"$src"/}" \) -prune \
        -o -type f "$@" -print
}

place() { # place FILE CONTENT|-  (- copies the file)
    mkdir -p "$out/$(dirname "$1")"
    if [ "$2" = - ]; then cp "$1" "$out/$1"; else printf '%s\n' "$2" > "$out/$1"; fi
}

list \( -name Cargo.toml -o -name Cargo.lock -o -name 'rust-toolchain*' -o -path './.cargo/config.toml' -o -path './.cargo/config' \) |
    while IFS= read -r f; do place "$f" -; done

# A crate doc comment, so that a `missing_docs = "deny"` lint would not fail the stubs.
stub_doc='//! Stub for the Docker dependency layer (deploy/docker/cargo-skeleton.sh).'

# Per package (a directory with a Cargo.toml): its crate roots, as Cargo discovers them.
list -name Cargo.toml | while IFS= read -r manifest; do
    pkg=$(dirname "$manifest")
    if [ -f "$pkg/build.rs" ]; then place "$pkg/build.rs" -; fi
    if [ -f "$pkg/src/lib.rs" ]; then place "$pkg/src/lib.rs" "$stub_doc"; fi
    for f in "$pkg/src/main.rs" "$pkg"/src/bin/*.rs "$pkg"/src/bin/*/main.rs \
        "$pkg"/examples/*.rs "$pkg"/examples/*/main.rs "$pkg"/tests/*.rs "$pkg"/tests/*/main.rs \
        "$pkg"/benches/*.rs "$pkg"/benches/*/main.rs; do
        if [ -f "$f" ]; then place "$f" "$stub_doc
fn main() {}"; fi
    done
done
