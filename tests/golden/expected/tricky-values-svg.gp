set terminal svg size 720,420 dynamic noenhanced font 'Helvetica,12' background '#ffffff'
set output 'tricky-values.svg'
set encoding utf8
set key outside right top box opaque
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set border 3
set tics nomirror
set bars small
set xlabel 'n'
set ylabel 'value'
set logscale x 2
set logscale y 10
plot 'tricky-values.dat' index 0 using 1:2:3:4 with yerrorlines lw 1.5 pt 5 ps 0.8 title 'it_s', \
     80 with lines dt 2 lw 1.5 lc rgb '#aa3333' title 'ceiling'
