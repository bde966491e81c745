import sys, re, collections
b=open(sys.argv[1],'rb').read()
def leb(b,i):
    r=s=0
    while True:
        x=b[i];i+=1;r|=(x&0x7f)<<s;s+=7
        if x<0x80:return r,i
i=8; secs=[]
while i<len(b):
    sid=b[i];i+=1;sz,i=leb(b,i);secs.append((sid,i,sz));i+=sz
nimports=0; names={}; bodies=[]
for sid,st,sz in secs:
    if sid==2:
        n,j=leb(b,st)
        for _ in range(n):
            l,j=leb(b,j);j+=l;l,j=leb(b,j);j+=l;k=b[j];j+=1
            if k==0: nimports+=1; _,j=leb(b,j)
            else: raise SystemExit('non-func import')
    if sid==10:
        n,j=leb(b,st)
        for _ in range(n):
            l,j=leb(b,j);bodies.append(l);j+=l
    if sid==0:
        l,j=leb(b,st);nm=b[j:j+l].decode();j+=l
        if nm=='name':
            end=st+sz
            while j<end:
                sub=b[j];j+=1;ssz,j=leb(b,j);e=j+ssz
                if sub==1:
                    n,k=leb(b,j)
                    for _ in range(n):
                        idx,k=leb(b,k);l,k=leb(b,k);names[idx]=b[k:k+l].decode('utf8','replace');k+=l
                j=e
agg=collections.Counter()
for i,l in enumerate(bodies):
    nm=names.get(i+nimports,'?')
    m=re.search(r'(?:_ZN|^)(\d+)([a-z_][a-z0-9_]*)',nm)
    key=m.group(2) if m else nm[:30]
    # demangled v0/legacy names like "parquet::..."
    m2=re.match(r'<?([a-z_][a-z0-9_]*)::',nm)
    if m2: key=m2.group(1)
    agg[key]+=l
print('functions',len(bodies),'named',len(names),'code',sum(bodies))
for k,v in agg.most_common(25): print(f'{v:9d} {k}')
