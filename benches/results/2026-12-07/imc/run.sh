#!/bin/bash
# usage: prof2.sh tag policy factor aops [perf]
set -e
tag=$1; pol=$2; fac=$3; aops=$4; doperf=$5
B=/work/main/target/release
rm -rf /work/srv; mkdir -p /work/srv
$B/strata-server standalone --root-dir /work/srv --listen 127.0.0.1:16020 --set server.status_listen='"127.0.0.1:16031"' --set memstore.in_memory_compaction="\"$pol\"" --set memstore.in_memory_flush_factor=$fac > /work/res/srv-$tag.log 2>&1 &
SRV=$!
sleep 2
cpu() { awk '{print $14+$15}' /proc/$SRV/stat; }
$B/strata-bench load --master http://127.0.0.1:16020 --threads 32 -p recordcount=200000 -p strata.blocksize=8192 -p strata.prefetch=true --no-progress > /work/res/load-$tag.txt 2>&1
$B/strata --master http://127.0.0.1:16020 exec "major_compact 'usertable'" >/dev/null
sleep 30
c0=$(cpu)
$B/strata-bench run --master http://127.0.0.1:16020 --workload a --threads 32 -p recordcount=200000 -p operationcount=$aops --no-progress > /work/res/runa-$tag.txt 2>&1
c1=$(cpu)
PERF=""
if [ -n "$doperf" ]; then perf record -F 999 -g -p $SRV -o /work/res/perf-$tag.data -- sleep 25 > /dev/null 2>&1 & PERF=$!; fi
$B/strata-bench run --master http://127.0.0.1:16020 --workload c --threads 32 -p recordcount=200000 -p operationcount=600000 --no-progress > /work/res/runc-$tag.txt 2>&1
c2=$(cpu)
[ -n "$PERF" ] && wait $PERF || true
curl -s http://127.0.0.1:16031/metrics | grep -E "memstore_compaction|strata_region_memstore_bytes|flushes_total" | grep -v "^#" > /work/res/metrics-$tag.txt || true
kill $SRV; wait $SRV || true
ta=$(grep "OVERALL\], Throughput" /work/res/runa-$tag.txt | awk -F', ' '{print $3}')
tc=$(grep "OVERALL\], Throughput" /work/res/runc-$tag.txt | awk -F', ' '{print $3}')
pc=$(grep "READ\], 99thPercentileLatency" /work/res/runc-$tag.txt | awk -F', ' '{print $3}')
echo "$tag A: $ta ops/s server $(echo "($c1-$c0)*10000/$aops" | bc -l | cut -c1-5) us/op | C: $tc ops/s p99 $pc server $(echo "($c2-$c1)*10000/600000" | bc -l | cut -c1-5) us/op | $(tr '\n' ' ' < /work/res/metrics-$tag.txt)"
