using System.CommandLine;
using Imagic.Pipelines;
using Imagic.Schedulers;

namespace Imagic.Cli;

/// <summary>
/// The options that say which model is read, how, and where it runs, shared by every command that loads one:
/// <c>--model</c> (the bundled model when omitted), <c>--device</c>, and for single-file checkpoints <c>--config</c>,
/// <c>--prediction-type</c> and <c>--ema</c>.
/// </summary>
internal sealed class ModelLoadOptions
{
    public const string DefaultModelDescription =
        "Model folder (diffusers layout) or single-file .safetensors checkpoint. Default: the bundled shapes model.";

    readonly Option<string?> _model = new("--model", "-m");
    readonly Option<string> _device = new("--device")
    {
        Description = "Where to run: cpu, cuda or cuda:N. Seeds reproduce per device, not across devices. Default: cpu.",
        DefaultValueFactory = _ => "cpu",
    };
    readonly Option<string?> _config = new("--config")
    {
        Description = "For a single-file checkpoint (--model FILE.safetensors): a diffusers folder whose unet/, vae/ and text_encoder/ " +
            "config.json describe it, instead of inferring the architecture from its shapes (for fine-tunes with other widths).",
    };
    readonly Option<string?> _predictionType = new("--prediction-type")
    {
        Description = "What the UNet predicts, which weights cannot tell: epsilon or v_prediction. Default: the model folder's scheduler " +
            "config; for a single file, epsilon for SD 1.x and v_prediction for SD 2.x (pass epsilon for 2.x base models).",
    };

    readonly Option<bool> _ema = new("--ema")
    {
        Description = "For a single-file checkpoint that keeps both (e.g. v1-5-pruned.safetensors): load the UNet's EMA weights (model_ema.*) " +
            "instead of its training weights. The -emaonly files need no flag.",
    };

    ModelLoadOptions() => _predictionType.AcceptOnlyFromAmong("epsilon", "v_prediction");

    /// <summary>Adds <c>--model</c>, described by <paramref name="modelDescription"/>, and the options below to <paramref name="command"/>.</summary>
    public static ModelLoadOptions AddTo(Command command, string modelDescription = DefaultModelDescription)
    {
        var options = new ModelLoadOptions();
        options._model.Description = modelDescription;
        command.Options.Add(options._model);
        return options.AddReading(command);
    }

    /// <summary>
    /// Adds <c>--device</c>, <c>--config</c>, <c>--prediction-type</c> and <c>--ema</c> to a command that names its checkpoint
    /// otherwise (<c>imagic convert</c>'s argument).
    /// </summary>
    public static ModelLoadOptions AddReadingTo(Command command) => new ModelLoadOptions().AddReading(command);

    /// <summary>Adds only <c>--device</c>, to a command that makes a model rather than reading one (<c>imagic train</c>).</summary>
    public static ModelLoadOptions AddDeviceTo(Command command)
    {
        var options = new ModelLoadOptions();
        command.Options.Add(options._device);
        return options;
    }

    ModelLoadOptions AddReading(Command command)
    {
        command.Options.Add(_device);
        command.Options.Add(_config);
        command.Options.Add(_predictionType);
        command.Options.Add(_ema);
        return this;
    }

    /// <summary>The <c>--model</c> value as given, or null (for <c>imagic sample</c> and <c>--resume</c>: the run's own model).</summary>
    public string? GivenModel(ParseResult result) => result.GetValue(_model);

    /// <summary>The <c>--model</c> value, or the bundled model (<see cref="BundledModel.Resolve"/>).</summary>
    public string ModelDir(ParseResult result) => GivenModel(result) ?? BundledModel.Resolve();

    /// <summary>The chosen device; fails with one line for an unknown name or a CUDA device this build cannot use.</summary>
    public TorchSharp.torch.Device Device(ParseResult result) => ComputeDevice.Parse(result.GetValue(_device));

    public PipelineLoadOptions Read(ParseResult result) => new()
    {
        Device = Device(result),
        ConfigDir = result.GetValue(_config),
        PredictionType = result.GetValue(_predictionType) switch
        {
            "epsilon" => PredictionType.Epsilon,
            "v_prediction" => PredictionType.VPrediction,
            _ => null,
        },
        UseEma = result.GetValue(_ema),
        TokenizerDir = BundledModel.TokenizerDir(),
    };
}
