#!/usr/bin/env bash
# Compiles the server into build/ (build/src, build/scripts: what tests and benches import),
# bundles it into build/app (scripts/bundle.ts) and installs the executable
# build/bin/verstak-sync-server, which runs the bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf build
npx tsc -p tsconfig.build.json
node build/scripts/bundle.js
# Templates and static files, where src/app-dir.ts finds them (build/).
cp -R views static build/
version=$(node -p "require('./package.json').version")
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
printf '{"version":"%s","build_commit":"%s"}\n' "$version" "$commit" > build/build-info.json
mkdir -p build/bin
cat > build/bin/verstak-sync-server <<'BIN'
#!/usr/bin/env node
import '../app/cli.js';
BIN
chmod +x build/bin/verstak-sync-server
