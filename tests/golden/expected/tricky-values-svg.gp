set terminal svg size 720,420 dynamic noenhanced font 'Helvetica,12' background '#ffffff'
set output 'tricky-values.svg'
set encoding utf8
set key outside below center horizontal Left reverse nobox samplen 2.5 spacing 1.1 width 1 font ',10'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set border 3
set tics nomirror
set bars small
set xlabel 'n'
set ylabel 'value'
set logscale x 2
set logscale y 10
plot 'tricky-values.dat' index 0 using 1:2:3:4 with yerrorbars lw 1.2 lc rgb '#0072B2' dt 1 pt 7 ps 0.8 notitle, \
     'tricky-values.dat' index 0 using 1:2 with linespoints lw 1.5 lc rgb '#0072B2' dt 1 pt 7 ps 0.8 title 'it_s', \
     80 with lines dt 2 lw 1.5 lc rgb '#444444' title 'ceiling'
