
01JDX0000000000000000000B2u-bobИз—Ш"
tournamentZ

t-43