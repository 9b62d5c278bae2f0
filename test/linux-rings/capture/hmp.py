import socket, sys, time
# usage: hmp.py SOCK CMD... ; prints each command's output
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(2)
def rd():
    buf = b''
    while True:
        try:
            d = s.recv(65536)
            if not d: break
            buf += d
            if buf.endswith(b'(qemu) '): break
        except socket.timeout: break
    return buf.decode(errors='replace')
rd()
for c in sys.argv[2:]:
    s.sendall((c + '\n').encode())
    out = rd()
    # strip echo/escape sequences
    import re
    out = re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', out).replace('\r', '')
    lines = out.split('\n')
    # the first line is the echoed command
    print('(qemu) ' + c); print('\n'.join(l for l in lines[1:] if l != '(qemu) ').rstrip())
