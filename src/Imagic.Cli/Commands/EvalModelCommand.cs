using System.CommandLine;
using Imagic.Evaluation;
using Imagic.Imaging;
using Imagic.IO;
using Imagic.Pipelines;
using Spectre.Console;

namespace Imagic.Cli.Commands;

/// <summary><c>imagic eval-model</c>: attribute accuracy of a shapes-world model, judged by the world's detector.</summary>
internal static class EvalModelCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Model folder. Default: the bundled shapes model." };
        var samples = new Option<int>("--samples", "-n") { Description = "Number of random captions (one image each).", DefaultValueFactory = _ => 200 };
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale.", DefaultValueFactory = _ => 5 };
        var steps = new Option<int>("--steps") { Description = "DDIM steps per image.", DefaultValueFactory = _ => 25 };
        var seed = new Option<long>("--seed") { Description = "Seed of the scenes and the noise.", DefaultValueFactory = _ => 0 };
        var output = new Option<string?>("--out", "-o") { Description = "Folder for report.json and a grid of the first 64 samples." };
        var command = new Command("eval-model",
            "Measure how well a shapes-world model follows its captions: generate one image per random scene's caption and check colour, " +
            "shape, size, position, pose and background with the world's detector.\nExample: imagic eval-model --samples 200 --guidance 5")
        {
            model, samples, guidance, steps, seed, output,
        };
        command.SetAction(result =>
        {
            using var ctrlC = new CtrlC();
            TorchSharp.torch.set_num_threads(Environment.ProcessorCount);
            using var pipe = StableDiffusionPipeline.Load(result.GetValue(model) ?? BundledModel.Resolve());
            var options = new ModelEvaluator.Options(result.GetValue(samples), result.GetValue(guidance), result.GetValue(steps), result.GetValue(seed));
            var (accuracy, images) = ConsoleProgress.Run("eval-model", progress => ModelEvaluator.Evaluate(pipe, options, progress, ctrlC.Token));

            var table = new Table().AddColumn("attribute").AddColumn(new TableColumn("accuracy").RightAligned());
            foreach (var (name, value) in new[] { ("colour", accuracy.Color), ("shape", accuracy.Shape), ("size", accuracy.Size),
                         ("position", accuracy.Position), ("pose", accuracy.Pose), ("background", accuracy.Background), ("all of them", accuracy.AllPrimary) })
                table.AddRow(name, $"{value:P1}");
            AnsiConsole.Write(table);
            Console.WriteLine($"{accuracy.Samples} samples, guidance {options.GuidanceScale}, {options.Steps} DDIM steps, seed {options.Seed}.");
            if (result.GetValue(output) is string outDir)
            {
                Directory.CreateDirectory(outDir);
                AtomicFile.WriteAllText(Path.Combine(outDir, "report.json"), accuracy.ToJson());
                var rows = images.Take(64).Select(s => s.Image.ToImage()).Chunk(8).Select(r => (IReadOnlyList<RgbImage>)r).ToList();
                ImageIO.SavePng(ImageGrid.Compose(rows, padding: 2, minCellSize: 64), Path.Combine(outDir, "samples.png"));
                Console.WriteLine($"Wrote {Path.GetFullPath(outDir)}");
            }
            return 0;
        });
        return command;
    }
}
