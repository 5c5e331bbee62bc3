#!/usr/bin/env node
// The `keyceremony` command under its earlier name: the same as bin/keyceremony.cjs (package.json
// `bin`), which starts faster because node starts a CommonJS entry more quickly than a module.
import './keyceremony.cjs';
