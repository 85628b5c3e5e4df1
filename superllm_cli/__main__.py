from superllm_cli.entry import main

main()
