# longlog.gp: the plot of tests/bench/run longlog (gnuplot).
# gnuplot -e "data='W.tsv'; samples='S.tsv'; out='P.png'; title='...'" longlog.gp
# data: one line per window: events folded at its end, events/s within it,
# CPU microseconds per event within it (NaN: unknown).
# samples: seconds, events folded, heap (RssAnon) MiB, state MiB, CPU s.
set terminal pngcairo size 1000,800 noenhanced font ",10"
set output out
set multiplot layout 2,1 title title
set xlabel "events folded (millions)"
set grid
set xrange [0:*]
set key top right
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set ylabel "events/s (each window)"
set y2label "CPU microseconds per event"
plot data using ($1/1e6):2 with linespoints pt 7 ps 0.4 lw 1.5 title "events/s (wall)", \
     data using ($1/1e6):3 axes x1y2 with linespoints pt 6 ps 0.4 lw 1 title "CPU us/event"
set ylabel "heap (RssAnon) MiB"
set y2label "state (du) MiB"
plot samples using ($2/1e6):3 with lines lw 1.5 title "heap (RssAnon)", \
     samples using ($2/1e6):4 axes x1y2 with lines lw 1.5 dt 2 title "state (du)"
unset multiplot
