# Runs a command under a new pseudo-terminal (its controlling terminal, PTY_COLUMNS wide), relays the
# terminal output to stdout and stdin to the terminal (so a test can type Ctrl-C as \x03), and exits with the
# command's status (128 + signal when it was killed). Used by test/support/cli.ts.
import fcntl, os, pty, select, struct, sys, termios
cols = int(os.environ.get('PTY_COLUMNS', '100'))
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', 30, cols, 0, 0))
inp = sys.stdin.fileno()
fds = [fd, inp]
while fd in fds:
    r, _, _ = select.select(fds, [], [])
    if fd in r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b''
        if not data:
            fds.remove(fd)
        else:
            os.write(1, data)
    if inp in r:
        data = os.read(inp, 1024)
        if not data:
            fds.remove(inp)
        else:
            os.write(fd, data)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
