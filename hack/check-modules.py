#!/usr/bin/env python3
"""Fails when a source file of src/ imports, directly or through others, a module that imports it
back. Edges go to the file that *defines* the item named (re-exports are followed), so a parent's
`pub use child::X` facade is no edge, while a child's `use super::X` of an item defined in the
parent is one. `make lint` runs it; it prints each cycle once."""
import os
import re
import sys

root=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
files={}
def modpath(p):
    rel=os.path.relpath(p,root)[:-3].split('/')
    if rel[-1] in ('mod','lib'): rel=rel[:-1]
    return tuple(rel)
for dp,dn,fn in os.walk(root):
    for f in fn:
        if f.endswith('.rs') and f!='main.rs':
            p=os.path.join(dp,f); files[modpath(p)]=p
text={m:open(p).read().split('#[cfg(test)]')[0] for m,p in files.items()}
raw=dict(text)
text={m:re.sub(r'^\s*pub(?:\(crate\))? use [^;]*;','',t,flags=re.M) for m,t in text.items()}
defs={m:set(re.findall(r'^\s*(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?(?:struct|enum|fn|const|trait|type|static|macro_rules!)\s+(\w+)',t,re.M)) for m,t in text.items()}
def owner(mod,name,depth=0):
    """file that defines `name` reachable as mod::name"""
    if mod not in files or depth>5: return mod
    if name in defs[mod]: return mod
    if mod+(name,) in files: return mod+(name,)
    for mt in re.finditer(r'pub(?:\(crate\))? use ([\w:]+)::(?:\{([^}]*)\}|(\w+)|\*)',raw[mod]):
        path=mt.group(1).split('::'); names=(mt.group(2) or mt.group(3) or '*')
        names=[n.strip().split(' as ')[-1] for n in names.split(',')]
        if name in names or '*' in names:
            base = [] if path[0]=='crate' else list(mod[:-1]) if path[0]=='super' else list(mod)
            rest=[x for x in path if x not in('crate','super','self')]
            tgt=tuple(base+rest)
            if tgt in files: return owner(tgt,name,depth+1)
    return mod
graph={m:set() for m in files}
for m,t in text.items():
    isdir=files[m].endswith('mod.rs') or files[m].endswith('lib.rs')
    children=set(re.findall(r'^\s*(?:pub(?:\(crate\))? )?mod (\w+);',t,re.M))
    for line in re.findall(r'\b((?:crate|super|self|'+('|'.join(children) or 'XX')+r')(?:::\w+)+(?:::\{[^}]*\})?)',t):
        line=re.sub(r'\s','',line)
        head,_,brace=line.partition('::{')
        parts=head.split('::')
        if parts[0]=='crate': base=[]; parts=parts[1:]
        elif parts[0]=='super': base=list(m[:-1]) if isdir else list(m[:-1]); parts=parts[1:]
        elif parts[0]=='self': base=list(m) if isdir else list(m[:-1]); parts=parts[1:]
        else: base=list(m) if isdir else list(m[:-1])
        while parts and parts[0]=='super': base=base[:-1]; parts=parts[1:]
        names=[n.split('::')[0].split(' as ')[0] for n in brace.rstrip('}').split(',')] if brace else [parts.pop()] if parts else []
        modp=tuple(base+parts)
        while modp and modp not in files: names=[modp[-1]]; modp=modp[:-1]
        for n in names:
            if n in ('self','*',''): tgt=modp
            else: tgt=owner(modp,n)
            if tgt!=m: graph[m].add(tgt)
cyc=set()
def dfs(n,stack):
    for d in graph.get(n,()):
        if d in stack:
            c=stack[stack.index(d):]; k=tuple(sorted(c))
            if k not in cyc: cyc.add(k); print('cycle:',' -> '.join('::'.join(x) or 'crate' for x in c+[d]))
        elif len(stack) < 14:
            dfs(d, stack + [d])
for m in sorted(graph): dfs(m,[m])
sys.exit(1 if cyc else 0)
