/**
 * The command line inside the packaged app (dist/electron/cli.cjs): the app starts it in an
 * Electron utility process for rehearsals, which need a PKCS#11 library of their own. The
 * RunAsNode fuse is off, so the app never runs itself as Node; a utility process needs no fuse.
 * The app puts "--" before the command's arguments, so they are found wherever the process
 * places its own entries in argv; `node cli.cjs ARGS` works too.
 */
import { main } from '../../src/cli/main.js';

const sep = process.argv.indexOf('--');
void main(sep >= 0 ? process.argv.slice(sep + 1) : process.argv.slice(2)).then((code) => { process.exitCode = code; });
