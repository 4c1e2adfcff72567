"""Published figures (Mazur, Ng, seed 004) reproduced and compared."""
