# --stream throughput against input size: mutx beside dd conv=fsync and
# sponge. Called by bench/stream.sh:
#   gnuplot -e "datafile='stream-sweep.dat'; outfile='stream.png'" bench/plot.gnuplot
# datafile columns: MiB, then MiB/s of mutx, dd conv=fsync, sponge.
if (!exists("datafile")) datafile = 'bench/results/stream-sweep.dat'
if (!exists("outfile")) outfile = 'bench/stream.png'
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 640,400 font ',10'
} else {
  set terminal png size 640,400
}
set output outfile
set title 'Durable write from a pipe: throughput by input size'
set xlabel 'input size (MiB, log scale)'
set ylabel 'MiB/s (higher is better)'
set logscale x 2
set key top left
set grid
set yrange [0:*]
plot datafile using 1:2 with linespoints lw 2 pt 7 title 'mutx --stream (durable)', \
     datafile using 1:3 with linespoints lw 2 pt 5 title 'dd bs=1M conv=fsync (durable)', \
     datafile using 1:4 with linespoints lw 2 pt 9 title 'sponge (not durable)'
