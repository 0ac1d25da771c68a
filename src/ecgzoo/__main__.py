from ecgzoo.cli import main

main()
