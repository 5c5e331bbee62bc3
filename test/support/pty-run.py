# Runs a command on a real pseudo-terminal as the people at it would, and prints a JSON report:
# the exit status, everything the terminal showed, and the words it read off the screen (words:
# the paper shares' by custodian; heard: a witness check's by slot, as last shown to its reader).
#
#   python3 test/support/pty-run.py PLAN COMMAND [ARG ...]
#
# PLAN is JSON:
#   answers:    what to type, in order, each when the output since the last answer ends in ": "
#               (a prompt). Each is typed followed by Enter; in it
#                 {words:ID}  the words shown for custodian ID (a paper share's passphrase, as
#                             `backup split` shows it), {messy:ID} the same in capitals between
#                             runs of spaces and tabs, {wrong:ID} the same with its third word
#                             replaced;
#                 {heard}     at a prompt `word N of M: `, word N of the words last shown to a
#                             reader to read aloud (src/cli/witness.ts), {misheard} another word
#                             in that slot;
#                 {ctrl-c}    is ^C alone (no Enter).
#   stdoutFile: if set, the command's stdout goes to this file instead of the terminal.
#   words:      words known in advance, by custodian (for a drill).
#   timeout:    seconds before the command is left to itself (default 120).
import json, os, pty, re, select, sys, time

plan = json.loads(sys.argv[1]); cmd = sys.argv[2:]
answers = list(plan.get('answers', []))
words = dict(plan.get('words', {}))
heard = {}  # slot number -> the word a reader was last shown for it
pid, fd = pty.fork()
if pid == 0:
    if plan.get('stdoutFile'):
        out_fd = os.open(plan['stdoutFile'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out_fd, 1)
    os.execvp(cmd[0], cmd)

# a paper share's words as `backup split` shows them, two numbered lines under its heading
PAPER = re.compile(r'([a-z0-9._-]+): the passphrase of your paper share is these 8 words[^\n]*\n[^\n]*\n\n((?:[^\n]*\n){2})')
# the words a witness check shows its reader, numbered by slot, between its heading and "Press Enter"
ALOUD = re.compile(r'Reader: [^\n]*\n((?:[^\n]*\n)*?)Press Enter')
SLOT_PROMPT = re.compile(rb'word (\d+) of \d+: $')

def fill(answer, prompt):
    if answer == '{ctrl-c}':
        return b'\x03'
    slot = SLOT_PROMPT.search(prompt)
    def sub(m):
        kind, who = m.group(1), m.group(2)
        if kind in ('heard', 'misheard'):
            word = heard[int(slot.group(1))]
            return word if kind == 'heard' else ('aardvark' if word != 'aardvark' else 'absurd')
        w = words[who].split(' ')
        if kind == 'messy':
            return '  ' + ' \t  '.join(x.upper() for x in w) + '   '
        if kind == 'wrong':
            w[2] = 'ability' if w[2] == 'abandon' else 'abandon'
        return ' '.join(w)
    return re.sub(r'\{(words|messy|wrong|heard|misheard):?([a-z0-9._-]*)\}', sub, answer).encode('utf8') + b'\r'

out = b''; since = 0; deadline = time.time() + plan.get('timeout', 120)
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    text = out.decode('utf8', 'replace').replace('\r\n', '\n')
    for m in PAPER.finditer(text):
        words[m.group(1)] = ' '.join(re.findall(r'\d+ ([a-z]+)', m.group(2)))
    for m in ALOUD.finditer(text):
        heard.update((int(n), w) for n, w in re.findall(r'(\d+) ([a-z]+)', m.group(1)))
    if answers and out[since:].endswith(b': '):
        os.write(fd, fill(answers.pop(0), out[since:]))
        since = len(out)
else:
    os.kill(pid, 9)  # past its time: stopped, so the report still comes (with the status of a kill)
_, status = os.waitpid(pid, 0)
print(json.dumps({"status": os.waitstatus_to_exitcode(status), "output": out.decode('utf8', 'replace'), "words": words, "heard": heard}))
