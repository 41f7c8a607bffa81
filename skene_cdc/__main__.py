from skene_cdc.cli.main import main

main()
