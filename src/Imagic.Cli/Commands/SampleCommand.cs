using System.CommandLine;
using Imagic.Editing;

namespace Imagic.Cli.Commands;

/// <summary><c>imagic sample</c>: stage C alone from a trained edit run, to choose η.</summary>
internal static class SampleCommand
{
    public static Command Create()
    {
        var run = new Argument<string>("run") { Description = "An edit run folder written by 'imagic edit'." };
        var eta = new Option<string>("--eta")
        {
            Description = "Comma-separated η values (columns of the grid). Higher edits more, lower preserves the photo more.",
            DefaultValueFactory = _ => "0.5,0.6,0.7,0.8,0.9,1.0",
        };
        var seeds = new Option<int>("--seeds") { Description = "How many seeds (rows of the grid).", DefaultValueFactory = _ => 1 };
        var seed = new Option<long?>("--seed") { Description = "First seed of the rows. Default: the run's seed." };
        var steps = new Option<int?>("--steps") { Description = "DDIM steps. Default: the run's." };
        var guidance = new Option<double?>("--guidance") { Description = "Guidance scale. Default: the run's." };
        var rescale = new Option<double?>("--guidance-rescale") { Description = "Guidance rescale φ in [0, 1]. Default: the run's." };
        var ramp = CommonOptions.GuidanceRamp("The η at which guidance reaches its scale, ramping from 1 at η = 0 ('off': the full scale " +
            "at every η). Default: the run's.");
        var start = CommonOptions.Start("What to sample from: 'noise' (from each seed) or 'inversion' (the input inverted under the " +
            "fine-tuned model; keeps its layout, the same for every seed). Default: the run's.");
        var noiseFrom = CommonOptions.NoiseFromEta("With the inversion start: η values at or above this one start from each seed's noise " +
            "instead ('off': none). Default: the run's.");
        var forget = CommonOptions.Forget("Forgedit's forgetting: sample each η with that half of the fine-tuned UNet moved back toward " +
            "its pretrained weights by min(η, 1)^p, p the run's forget_power ('decoder': the text can change appearance; 'encoder': layout; 'none'). Default: the run's.");
        var negative = CommonOptions.GuidanceNegative("What guidance pushes away from: 'empty' (the empty prompt) or 'reconstruction' " +
            "(e_opt: only the change from the input's embedding is strengthened). Default: the run's.");
        var mask = CommonOptions.Mask("'auto' keeps the input's own pixels outside the region the edit changes (DiffEdit's mask); " +
            "'none' returns the sampled images as they are. Default: the run's.");
        var share = CommonOptions.ShareAttention("The fraction of the steps, from the first, at which every η attends with the " +
            "self-attention of the η = 0 reconstruction, keeping the input's layout (0: none, 1: every step). Default: the run's.");
        var threads = CommonOptions.Threads();
        var command = new Command("sample",
            "Sample an η sweep from a trained edit run without retraining, and write each image and a labelled grid (η across, seeds down) " +
            "into a new sweep-N folder inside the run.\nExample: imagic sample runs/my-edit --eta 0.6,0.7,0.8 --seeds 3")
        {
            run, eta, seeds, seed, steps, guidance, rescale, ramp, negative, start, noiseFrom, forget, mask, share, threads,
        };
        var loading = ModelLoadOptions.AddTo(command, "The run's model, if it has moved since the edit.");
        command.SetAction(result =>
        {
            using var ctrlC = new CtrlC();
            CommonOptions.ApplyThreads(result, threads);
            var etas = OptionChecks.ParseEtas(result.GetValue(eta)!, m => Console.Error.WriteLine($"warning: {m}"));
            var overrides = new StageCOverrides
            {
                Steps = result.GetValue(steps),
                Guidance = result.GetValue(guidance),
                GuidanceRescale = result.GetValue(rescale),
                Start = CommonOptions.ParseStart(result.GetValue(start)),
                NoiseFromEta = CommonOptions.ParseNoiseFromEta(result.GetValue(noiseFrom)),
                GuidanceRamp = CommonOptions.ParseGuidanceRamp(result.GetValue(ramp)),
                Forget = CommonOptions.ParseForget(result.GetValue(forget)),
                Mask = CommonOptions.ParseMask(result.GetValue(mask)),
                GuidanceNegative = CommonOptions.ParseGuidanceNegative(result.GetValue(negative)),
                ShareAttention = result.GetValue(share),
            };
            var sweep = ConsoleProgress.Run("sample", progress => EditWorkflow.SampleFromRun(result.GetValue(run)!, etas,
                result.GetValue(seeds), result.GetValue(seed), overrides, loading.GivenModel(result), progress, ctrlC.Token, loading.Read(result)));
            Console.WriteLine($"Grid: {sweep.GridPath}");
            foreach (var path in sweep.ImagePaths)
                Console.WriteLine($"  {path}");
            if (sweep.FlatWarning() is string flat)
                Console.Error.WriteLine($"warning: {flat}");
            return 0;
        });
        return command;
    }
}
