from hreflex.cli import main

main()
