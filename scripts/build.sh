#!/usr/bin/env bash
# Compiles the server into build/ and installs the executable build/bin/verstak-sync-server.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf build
npx tsc -p tsconfig.build.json
# Templates and static files, where build/src/web/assets.js looks for them (two levels up).
cp -R views static build/
version=$(node -p "require('./package.json').version")
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
printf '{"version":"%s","build_commit":"%s"}\n' "$version" "$commit" > build/build-info.json
mkdir -p build/bin
cat > build/bin/verstak-sync-server <<'BIN'
#!/usr/bin/env node
import '../src/cli.js';
BIN
chmod +x build/bin/verstak-sync-server
