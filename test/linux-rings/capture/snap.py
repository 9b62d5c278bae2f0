import socket, sys, re, time
# snap.py SOCK RAMFILE OUTPREFIX: status of every queue, elements of the blk queue's in-flight positions, pmemsave,
# then status again; retried until the two statuses are identical (the guest runs: nothing may change in between).
sock, ram, out = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX); s.connect(sock); s.settimeout(3)
def rd():
    buf = b''
    while not buf.endswith(b'(qemu) '):
        d = s.recv(65536)
        if not d: break
        buf += d
    return re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', buf.decode(errors='replace')).replace('\r', '')
def cmd(c):
    s.sendall((c + '\n').encode()); o = rd(); lines = o.split('\n')
    return '(qemu) ' + c + '\n' + '\n'.join(l for l in lines[1:] if l != '(qemu) ').rstrip() + '\n'
rd()
P = '/machine/peripheral-anon/device'
qs = [(P + '[0]/virtio-backend', 0), (P + '[0]/virtio-backend', 1), (P + '[1]/virtio-backend', 0), (P + '[2]/virtio-backend', 0)]
for attempt in range(20):
    st1 = ''.join(cmd(f'info virtio-queue-status {p} {q}') for p, q in qs)
    blk = st1.split('info virtio-queue-status ' + P + '[2]')[1]
    used = int(re.search(r'used_idx:\s+(\d+)', blk).group(1)); avail = int(re.search(r'shadow_avail_idx:\s+(\d+)', blk).group(1))
    els = ''.join(cmd(f'info virtio-queue-element {P}[2]/virtio-backend 0 {i % 256}') for i in range(used, avail))
    cmd(f'pmemsave 0 0x10000000 "{ram}"')
    st2 = ''.join(cmd(f'info virtio-queue-status {p} {q}') for p, q in qs)
    if st1 == st2 and avail != used:
        open(out + '-status.txt', 'w').write(st1); open(out + '-elements.txt', 'w').write(els)
        print('consistent at attempt', attempt, 'blk used', used, 'avail', avail); break
    time.sleep(0.3)
else:
    print('no consistent snapshot')
