set terminal svg size 720,420 dynamic noenhanced font 'Helvetica,12' background '#ffffff'
set output 'speedy-speedups.svg'
set encoding utf8
set key outside below center horizontal Left reverse nobox samplen 2.5 spacing 1.1 width 1 font ',10'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set border 3
set tics nomirror
set bars small
set xlabel 'n'
set ylabel 'speedup (×)'
set logscale x 2
plot 'speedy-speedups.dat' index 0 using 1:2:3:4 with yerrorbars lw 1.2 lc rgb '#0072B2' dt 1 pt 7 ps 0.8 notitle, \
     'speedy-speedups.dat' index 0 using 1:2 with linespoints lw 1.5 lc rgb '#0072B2' dt 1 pt 7 ps 0.8 title 'fast vs slow', \
     'speedy-speedups.dat' index 1 using 1:2:3:4 with yerrorbars lw 1.2 lc rgb '#D55E00' dt 1 pt 5 ps 0.8 notitle, \
     'speedy-speedups.dat' index 1 using 1:2 with linespoints lw 1.5 lc rgb '#D55E00' dt 2 pt 5 ps 0.8 title 'fast vs <lib> & ''co''', \
     1 with lines dt 2 lw 1.5 lc rgb '#444444' title 'no speedup', \
     1.5 with lines dt 4 lw 1.5 lc rgb '#444444' title 'the claim: 1.5×'
