from lib.cli import main

main()
