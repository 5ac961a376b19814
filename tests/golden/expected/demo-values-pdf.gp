set terminal pdfcairo size 5.5in,3.2in noenhanced font 'Helvetica,9'
set output 'demo-values.pdf'
set encoding utf8
set key outside below center horizontal Left reverse nobox samplen 2.5 spacing 1.1 width 1 font ',8'
set grid xtics ytics mxtics mytics lc rgb '#dddddd'
set border 3
set tics nomirror
set bars small
set xlabel 'n'
set ylabel 'value'
set logscale x 2
set logscale y 10
plot 'demo-values.dat' index 0 using 1:2:3:4 with yerrorbars lw 1.2 lc rgb '#0072B2' dt 1 pt 7 ps 0.8 notitle, \
     'demo-values.dat' index 0 using 1:2 with linespoints lw 1.5 lc rgb '#0072B2' dt 1 pt 7 ps 0.8 title 'given', \
     80 with lines dt 2 lw 1.5 lc rgb '#444444' title 'ceiling'
