from rtcli.cli.main import main

main()
