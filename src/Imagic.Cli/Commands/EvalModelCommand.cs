using System.CommandLine;
using Imagic.Editing;
using Imagic.Evaluation;
using Imagic.Imaging;
using Imagic.IO;
using Imagic.Pipelines;
using Spectre.Console;

namespace Imagic.Cli.Commands;

/// <summary><c>imagic eval-model</c>: attribute accuracy of a shapes-world model, judged by the world's detector.</summary>
internal static class EvalModelCommand
{
    static readonly (string Name, Func<AttributeAccuracy, double> Pick)[] Rows =
    {
        ("colour", a => a.Color), ("shape", a => a.Shape), ("size", a => a.Size), ("position", a => a.Position),
        ("pose", a => a.Pose), ("background", a => a.Background), ("all of them", a => a.AllPrimary),
    };

    public static Command Create()
    {
        var samples = new Option<int>("--samples", "-n") { Description = "Number of random captions (one image each).", DefaultValueFactory = _ => 200 };
        var guidance = new Option<double>("--guidance") { Description = "Classifier-free guidance scale.", DefaultValueFactory = _ => 5 };
        var rescale = new Option<double?>("--guidance-rescale")
        {
            Description = "Guidance rescale φ in [0, 1] (Lin et al. 2023): pulls the guided output's scale back toward the conditional one, " +
                "against over-saturated colours at high guidance. Default: the model's imagic_defaults.json, else 0.",
        };
        var steps = new Option<int>("--steps") { Description = "DDIM steps per image.", DefaultValueFactory = _ => 25 };
        var seed = new Option<long>("--seed") { Description = "Seed of the scenes and the noise.", DefaultValueFactory = _ => 0 };
        var output = new Option<string?>("--out", "-o") { Description = "Folder for report.json and a grid of the first 64 samples." };
        var sensitivity = new Option<bool>("--caption-sensitivity")
        {
            Description = "Also show, per timestep, how much the denoising loss rises when the caption names one attribute wrongly " +
                "(no sampling; ~0 % means the model ignores that word at that noise level).",
        };
        var recovery = new Option<bool>("--noise-recovery")
        {
            Description = "Also start sampling from each scene's own image noised to 80, 60, 40 and 20 % of the schedule (SDEdit) and " +
                "check what the model keeps: shows the noise level where it loses an attribute (about 3x the time of the evaluation).",
        };
        var ablation = new Option<bool>("--detail-ablation")
        {
            Description = "Also show, for a world-v2 (64 px) model, the denoising loss per timestep on the same scenes with one kind of " +
                "unnamed detail switched off (texture, gradient, clutter, object detail): which detail costs the model most (no sampling).",
        };
        var threads = CommonOptions.Threads();
        var command = new Command("eval-model",
            "Measure how well a shapes-world model follows its captions: generate one image per random scene's caption and check colour, " +
            "shape, size, position, pose and background with the world's detector.\nExample: imagic eval-model --samples 200 --guidance 5")
        {
            samples, guidance, rescale, steps, seed, output, sensitivity, recovery, ablation, threads,
        };
        var loading = ModelLoadOptions.AddTo(command);
        command.SetAction(result =>
        {
            using var ctrlC = new CtrlC();
            string modelDir = loading.ModelDir(result);
            var options = new ModelEvaluator.Options(result.GetValue(samples), result.GetValue(guidance), result.GetValue(steps), result.GetValue(seed),
                GuidanceRescale: result.GetValue(rescale) ?? ImagicOptions.ForModel(modelDir).GuidanceRescale);
            if (options.Samples < 1) throw new ImagicException($"--samples must be at least 1, got {options.Samples}.");
            var sampling = new SamplingOptions { Steps = options.Steps, GuidanceScale = options.GuidanceScale, GuidanceRescale = options.GuidanceRescale };
            sampling.Validate(int.MaxValue);
            if (result.GetValue(output) is string target) OptionChecks.CheckOutputFolder(target, "--out");
            CommonOptions.ApplyThreads(result, threads);
            using var pipe = StableDiffusionPipeline.Load(modelDir, loading.Read(result));
            pipe.CheckSamplingOptions(sampling);
            if (result.GetValue(ablation)) DetailAblation.CheckModel(pipe);
            var (accuracy, images) = ConsoleProgress.Run("eval-model", progress => ModelEvaluator.Evaluate(pipe, options, progress, ctrlC.Token));

            // The VAE's round trip of the same scenes bounds what generation can reach.
            var ceiling = pipe.Vae is null ? null : ModelEvaluator.EvaluateReconstruction(pipe, options);
            var table = new Table().AddColumn("attribute").AddColumn(new TableColumn("generated").RightAligned());
            if (ceiling is not null) table.AddColumn(new TableColumn("VAE round trip (ceiling)").RightAligned());
            foreach (var (name, pick) in Rows)
            {
                var cells = new List<string> { name, $"{pick(accuracy):P1}" };
                if (ceiling is not null) cells.Add($"{pick(ceiling):P1}");
                table.AddRow(cells.ToArray());
            }
            AnsiConsole.Write(table);
            Console.WriteLine($"{accuracy.Samples} samples, guidance {options.GuidanceScale} (rescale {options.GuidanceRescale}), {options.Steps} DDIM steps, seed {options.Seed}.");
            Console.WriteLine("Most frequent mistakes (caption → drawn, count; all of them in report.json with --out):");
            foreach (var (attribute, mistakes) in accuracy.Confusions.Where(kv => kv.Value.Count > 0))
                Console.WriteLine($"  {attribute}: {string.Join(", ", mistakes.Take(4).Select(m => $"{m.Expected} → {m.Detected} {m.Count}"))}");
            IReadOnlyList<CaptionSensitivityRow>? rise = null;
            if (result.GetValue(sensitivity))
            {
                rise = CaptionSensitivity.Measure(pipe, options.Samples, options.Seed);
                var riseTable = new Table { Title = new TableTitle("loss rise with one wrong caption word") }
                    .AddColumn("t").AddColumn(new TableColumn("loss").RightAligned());
                foreach (var c in CaptionSensitivity.Columns) riseTable.AddColumn(new TableColumn(c).RightAligned());
                foreach (var row in rise)
                    riseTable.AddRow(new[] { row.Timestep.ToString(), $"{row.Loss:F4}" }
                        .Concat(CaptionSensitivity.Columns.Select(c => $"{row.IncreasePercent[c]:+0.0;-0.0}%")).ToArray());
                AnsiConsole.Write(riseTable);
                Console.WriteLine("Rise of the denoising loss when the caption names one attribute wrongly (or is empty), same scenes and noise;\n" +
                    "about 0% means the model ignores that word at that noise level.");
            }
            IReadOnlyList<NoiseRecoveryRow>? recovered = null;
            if (result.GetValue(recovery))
            {
                recovered = ConsoleProgress.Run("noise recovery", progress => NoiseRecovery.Measure(pipe, options, progress: progress, cancellation: ctrlC.Token));
                // One column per starting point, so that the table fits 80 columns.
                var recoveryTable = new Table { Title = new TableTitle("kept when sampling starts from the scene's own image at t") }.AddColumn("start t");
                foreach (var row in recovered)
                    recoveryTable.AddColumn(new TableColumn(row.SkippedSteps == 0 ? $"{row.Timestep} (noise)" : row.Timestep == 0 ? "0 (VAE)" : row.Timestep.ToString()).RightAligned());
                foreach (var (name, pick) in Rows)
                    recoveryTable.AddRow(new[] { name }.Concat(recovered.Select(row => $"{pick(row.Accuracy):P1}")).ToArray());
                AnsiConsole.Write(recoveryTable);
                Console.WriteLine("Same scenes and noise as above; from pure noise this is the evaluation, from t = 0 the VAE round trip.");
            }
            IReadOnlyList<DetailAblationRow>? ablated = null;
            if (result.GetValue(ablation))
            {
                ablated = DetailAblation.Measure(pipe, options.Samples, options.Seed);
                var ablationTable = new Table { Title = new TableTitle("denoising loss with one kind of unnamed detail switched off") }.AddColumn("scenes");
                foreach (int t in DetailAblation.DefaultTimesteps) ablationTable.AddColumn(new TableColumn($"t = {t}").RightAligned());
                foreach (var row in ablated)
                    ablationTable.AddRow(new[] { row.Variant }.Concat(DetailAblation.DefaultTimesteps.Select(t => $"{row.Loss[t]:F4}")).ToArray());
                AnsiConsole.Write(ablationTable);
                Console.WriteLine("Same scenes, captions and noise in every row; the drop from \"as sampled\" is what that detail costs the model.");
            }
            if (result.GetValue(output) is string outDir)
            {
                Directory.CreateDirectory(outDir);
                AtomicFile.WriteAllText(Path.Combine(outDir, "report.json"), accuracy.ToJson());
                if (ceiling is not null)
                    AtomicFile.WriteAllText(Path.Combine(outDir, "vae_round_trip.json"), ceiling.ToJson());
                if (rise is not null)
                    AtomicFile.WriteAllText(Path.Combine(outDir, "caption_sensitivity.json"),
                        System.Text.Json.JsonSerializer.Serialize(rise, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                if (recovered is not null)
                    AtomicFile.WriteAllText(Path.Combine(outDir, "noise_recovery.json"),
                        System.Text.Json.JsonSerializer.Serialize(recovered, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                if (ablated is not null)
                    AtomicFile.WriteAllText(Path.Combine(outDir, "detail_ablation.json"),
                        System.Text.Json.JsonSerializer.Serialize(ablated, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
                var rows = images.Take(64).Select(s => s.Image.ToImage()).Chunk(8).Select(r => (IReadOnlyList<RgbImage>)r).ToList();
                ImageIO.SavePng(ImageGrid.Compose(rows, padding: 2, minCellSize: 64), Path.Combine(outDir, "samples.png"));
                Console.WriteLine($"Wrote {Path.GetFullPath(outDir)}");
            }
            return 0;
        });
        return command;
    }
}
