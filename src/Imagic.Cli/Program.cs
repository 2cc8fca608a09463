return Imagic.Cli.CliApp.Run(args);
