set terminal svg size 720,420 dynamic noenhanced font 'Helvetica,12' background '#ffffff'
set output 'speedy-speedups.svg'
set encoding utf8
set key outside right top box opaque
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set border 3
set tics nomirror
set bars small
set xlabel 'n'
set ylabel 'speedup (×)'
set logscale x 2
plot 'speedy-speedups.dat' index 0 using 1:2:3:4 with yerrorlines lw 1.5 pt 5 ps 0.8 title 'fast vs slow', \
     'speedy-speedups.dat' index 1 using 1:2:3:4 with yerrorlines lw 1.5 pt 6 ps 0.8 title 'fast vs <lib> & ''co''', \
     1 with lines dt 2 lw 1.5 lc rgb '#aa3333' title 'no speedup', \
     1.5 with lines dt 2 lw 1.5 lc rgb '#aa3333' title 'the claim: 1.5×'
