/**
 * The command line inside the packaged app (dist/electron/cli.cjs): the app starts it in an
 * Electron utility process for rehearsals, which need a PKCS#11 library of their own. The
 * RunAsNode fuse is off, so the app never runs itself as Node; a utility process needs no fuse.
 */
import { main } from '../../src/cli/main.js';

void main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
