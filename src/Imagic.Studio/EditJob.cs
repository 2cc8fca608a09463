using System.Diagnostics;
using Imagic.Editing;
using Imagic.Pipelines;

namespace Imagic.Studio;

/// <summary>
/// One edit this server trains or has queued: its live state, its loss curves so far, and the listeners of
/// its progress events. Progress arrives on the training thread; readers are request threads.
/// </summary>
internal sealed class EditJob
{
    readonly object _lock = new();
    readonly Stopwatch _clock = new();
    EditState _state;
    int _stageFirstStep;
    double _stageStart, _lastReport; // seconds on _clock

    /// <param name="request">What to train; null to resume the run already in <paramref name="dir"/>.</param>
    public EditJob(string id, string dir, EditRequest? request, EditState initial)
    {
        Id = id;
        Dir = dir;
        Request = request;
        _state = initial;
    }

    public string Id { get; }
    public string Dir { get; }
    public EditRequest? Request { get; }
    public CancellationTokenSource Cancellation { get; } = new();
    public List<double> StageALosses { get; } = new();
    public List<double> StageBLosses { get; } = new();

    /// <summary>Raised after every change, on the thread that made it.</summary>
    public event Action<EditState>? Changed;

    public EditState State
    {
        get { lock (_lock) return _state; }
    }

    public (double[] A, double[] B) Losses
    {
        get { lock (_lock) return (StageALosses.ToArray(), StageBLosses.ToArray()); }
    }

    /// <summary>Starts the clock behind the time-left estimate, as training (re)starts.</summary>
    public void BeginTraining()
    {
        lock (_lock)
        {
            _clock.Restart();
            _stageStart = _lastReport = 0;
            _stageFirstStep = -1;
        }
        Update(s => s with { Status = EditState.Training, Error = null });
    }

    public void Update(Func<EditState, EditState> change)
    {
        EditState next;
        lock (_lock) next = _state = change(_state);
        Changed?.Invoke(next);
    }

    /// <summary>Reports training steps into the state: stage, step, loss, and the time left in the stage.</summary>
    public IProgress<StepProgress> Progress => new StepReporter(this);

    void Report(StepProgress p)
    {
        EditState next;
        lock (_lock)
        {
            double now = _clock.Elapsed.TotalSeconds;
            if (p.Stage != _state.Stage || _stageFirstStep < 0)
            {
                // The stage's first step began when the previous report (or the training) did.
                _stageStart = _lastReport;
                _stageFirstStep = p.Step - 1;
            }
            _lastReport = now;
            if (p.Loss is double loss)
                (p.Stage == "stage A" ? StageALosses : StageBLosses).Add(loss);
            int done = p.Step - _stageFirstStep;
            double? eta = done > 0 ? (now - _stageStart) / done * (p.Total - p.Step) : null;
            next = _state = _state with { Stage = p.Stage, Step = p.Step, Total = p.Total, Loss = p.Loss ?? _state.Loss, EtaSeconds = eta };
        }
        Changed?.Invoke(next);
    }

    /// <summary>Reports on the calling thread, unlike <see cref="Progress{T}"/>, which posts to the thread pool.</summary>
    sealed class StepReporter(EditJob job) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => job.Report(value);
    }
}
