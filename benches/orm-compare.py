#!/usr/bin/env python3
"""Compares two runs of the orm bench (criterion's output, as printed): the table of
benches/README.md's "Results: orm" sections, with the ORM / hand-written ratio of each
run and how that ratio changed. Ratios, not times: both sides of one run share the
host's state, which on a shared 2-core machine moves times by 20% between runs.

    cargo bench -p stdnet-benches --bench orm > before.log   # on the old commit
    cargo bench -p stdnet-benches --bench orm > after.log
    python3 benches/orm-compare.py before.log after.log
"""
import re,sys
def parse(path):
    txt=open(path).read()
    out={}
    for m in re.finditer(r"^(orm/[a-z_0-9]+/[a-z-]+)\s*\n?\s*time:\s+\[([\d.]+) (\S+) ([\d.]+) (\S+) ([\d.]+) (\S+)\]", txt, re.M):
        name=m.group(1); v=float(m.group(4)); u=m.group(5)
        mult={'ns':1e-9,'µs':1e-6,'us':1e-6,'ms':1e-3,'s':1}[u]
        out[name]=v*mult
    return out
b=parse(sys.argv[1]); a=parse(sys.argv[2])
def fmt(x):
    if x is None: return '-'
    if x>=1: return f"{x:.3f} s"
    if x>=1e-3: return f"{x*1e3:.1f} ms"
    return f"{x*1e6:.1f} µs"
work=[]
for k in list(b)+list(a):
    w=k.split('/')[1]
    if w not in work: work.append(w)
print("| workload | orm before | hand before | orm/hand before | orm after | hand after | orm/hand after | change of orm/hand |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for w in work:
    ob,hb=b.get(f"orm/{w}/stdnet-orm"),b.get(f"orm/{w}/hand-written")
    oa,ha=a.get(f"orm/{w}/stdnet-orm"),a.get(f"orm/{w}/hand-written")
    rb=ob/hb if ob and hb else None; ra=oa/ha if oa and ha else None
    ch=f"{(ra/rb-1)*100:+.1f}%" if ra and rb else '-'
    print(f"| `{w}` | {fmt(ob)} | {fmt(hb)} | {rb and f'{rb:.2f}' or '-'} | {fmt(oa)} | {fmt(ha)} | {ra and f'{ra:.2f}' or '-'} | {ch} |")
